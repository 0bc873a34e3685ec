/**
 * Derivation trees: every capability made by copy or mint is a child of the one it came from
 * (seL4's CDT), and every page a map item delivers is a child of the page it was mapped from (L4's
 * mapping database). Revoking removes all descendants; deleting a node hands its children to its
 * parent, so a later revoke of an ancestor still reaches them.
 *
 * Children are kept in an intrusive doubly linked list (first/last child, next/previous sibling):
 * attaching and detaching cost a few stores and allocate nothing, which matters for the mapping
 * database (a node per mapped page). The walks are iterative, so a chain of any depth is safe.
 *
 * Pure functions over any node with these links; no fibers, unit-tested directly. Owned by the
 * kernel's synchronous sections.
 */

/** A node of a derivation tree: its parent, its first and last child, its siblings. */
export interface DerivationNode<N extends DerivationNode<N>> {
  parent: N | undefined
  first: N | undefined
  last: N | undefined
  next: N | undefined
  prev: N | undefined
}

/** Makes `child` (a node without a parent) the last child of `parent`. */
export const attach = <N extends DerivationNode<N>>(parent: N, child: N): void => {
  child.parent = parent
  child.next = undefined
  child.prev = parent.last
  if (parent.last === undefined) parent.first = child
  else parent.last.next = child
  parent.last = child
}

/** Takes `node` out of its parent's list of children (it keeps its own children). */
const unlink = <N extends DerivationNode<N>>(node: N): void => {
  const parent = node.parent
  if (parent === undefined) return
  if (node.prev === undefined) parent.first = node.next
  else node.prev.next = node.next
  if (node.next === undefined) parent.last = node.prev
  else node.next.prev = node.prev
  node.parent = node.next = node.prev = undefined
}

/** Takes `node` out of the tree; its children move, in order, to the end of its parent's children (or become roots). */
export const detach = <N extends DerivationNode<N>>(node: N): void => {
  const parent = node.parent
  unlink(node)
  let c = node.first
  node.first = node.last = undefined
  while (c !== undefined) {
    const next = c.next
    c.parent = c.next = c.prev = undefined
    if (parent !== undefined) attach(parent, c)
    c = next
  }
}

/** Takes `node` and its whole subtree out of the tree, leaving the subtree's links to whoever walks it next. */
export const prune = <N extends DerivationNode<N>>(node: N): void => unlink(node)

/** Whether `node` has children. */
export const hasChildren = <N extends DerivationNode<N>>(node: N): boolean => node.first !== undefined

/** All descendants of `node`, deepest first (an order in which each can be removed safely). Iterative. */
export const descendants = <N extends DerivationNode<N>>(node: N): Array<N> => {
  const out: Array<N> = []
  // Post-order without recursion: descend to the deepest first child, emit, then go to the next sibling.
  let n = node.first
  while (n !== undefined) {
    while (n.first !== undefined) n = n.first
    for (;;) {
      out[out.length] = n
      if (n.next !== undefined) {
        n = n.next
        break
      }
      const up: N | undefined = n.parent
      if (up === undefined || up === node) return out
      n = up
    }
  }
  return out
}
