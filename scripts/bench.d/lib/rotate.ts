/** The order peers run in, round `by`: the list rotated, so no peer is always first. */
export const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!);
