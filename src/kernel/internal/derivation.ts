/**
 * The capability derivation tree (seL4's CDT): every capability made by copy or mint is a child of
 * the one it came from. Revoke removes all descendants; deleting a node hands its children to its
 * parent, so a later revoke of an ancestor still reaches them.
 *
 * Pure functions over any node with `parent`/`children`; no fibers, unit-tested directly.
 */

/** A node of the derivation tree. */
export interface DerivationNode<N extends DerivationNode<N>> {
  parent: N | undefined
  readonly children: Set<N>
}

/** Makes `child` a child of `parent`. */
export const attach = <N extends DerivationNode<N>>(parent: N, child: N): void => {
  child.parent = parent
  parent.children.add(child)
}

/** Takes `node` out of the tree; its children move to its parent (or become roots). */
export const detach = <N extends DerivationNode<N>>(node: N): void => {
  const parent = node.parent
  if (parent) parent.children.delete(node)
  for (const child of node.children) {
    child.parent = parent
    if (parent) parent.children.add(child)
  }
  node.children.clear()
  node.parent = undefined
}

/** All descendants of `node`, deepest first (an order in which each can be removed safely). */
export const descendants = <N extends DerivationNode<N>>(node: N): Array<N> => {
  const out: Array<N> = []
  const visit = (n: N) => {
    for (const child of n.children) {
      visit(child)
      out.push(child)
    }
  }
  visit(node)
  return out
}
