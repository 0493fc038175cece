/**
 * The ids of the broker's queue and journal rows: one sequence for both, as the previous run left
 * it (the next id follows the highest stored one).
 */
export class RowIds {
  private nextId = 1;

  /** The next free id. */
  take(): number {
    return this.nextId++;
  }

  /** Continues after the highest id a previous run stored (0: none). */
  continueAfter(maxId: number): void {
    this.nextId = maxId + 1;
  }
}
