/**
 * A ratio of two measurements timed in alternating rounds: on a shared machine the load moves
 * within seconds, so each round times both sides back to back (in turn first), and the ratio
 * reported is the median of the rounds' ratios, which one disturbed round cannot move.
 */

/** The median of the `rounds` ratios `a() / b()`, each round timing both; `a`, `b` return a time per operation. */
export const pairedRatio = async (rounds: number, a: () => Promise<number>, b: () => Promise<number>): Promise<number> => {
  const ratios: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      const tb = await b()
      ratios.push((await a()) / tb)
    } else {
      const ta = await a()
      ratios.push(ta / (await b()))
    }
  }
  ratios.sort((x, y) => x - y)
  return ratios[ratios.length >> 1]!
}
