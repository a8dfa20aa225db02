/**
 * The exchanges not finished yet (shutdown waits for them, then aborts the rest): an intrusive doubly-linked
 * list through the entries themselves, not a Set.
 *
 * Why not a Set: with one add and one delete per request, V8 rehashes a Set's table every few dozen
 * requests (deleted entries use up its capacity). Rehash (deps/v8/src/objects/ordered-hash-table.cc) allocates
 * the new table in the old generation when the Set lives there, and leaves the obsolete table pointing at its
 * successor and at every entry it held. Those old-to-young pointers keep the requests that were in flight
 * alive through the young-generation GCs until the next full GC, and with them everything they reach (the
 * relay, the responses, the sockets' buffers). At 3,000 small requests/s about 620 KB survived each scavenge
 * instead of 62 KB, and a full GC ran every ~3 s; with this list CPU per small request fell 13 %
 * (docs/performance.md). An unlinked entry here points at nothing.
 */
export interface ActiveEntry {
  activePrev: ActiveEntry | null;
  activeNext: ActiveEntry | null;
}

export class ActiveList<T extends ActiveEntry> {
  private head: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(entry: T): void {
    entry.activePrev = null;
    entry.activeNext = this.head;
    if (this.head !== null) this.head.activePrev = entry;
    this.head = entry;
    this.count++;
  }

  /** Removes an entry added before; an entry not in the list is left alone. */
  delete(entry: T): void {
    if (entry.activePrev !== null) entry.activePrev.activeNext = entry.activeNext;
    else if (this.head === entry) this.head = entry.activeNext as T | null;
    else return;
    if (entry.activeNext !== null) entry.activeNext.activePrev = entry.activePrev;
    entry.activePrev = null;
    entry.activeNext = null;
    this.count--;
  }

  /** The entries now, newest first (a copy: deleting while going through it is fine). */
  toArray(): T[] {
    const out: T[] = [];
    for (let e: ActiveEntry | null = this.head; e !== null; e = e.activeNext) out.push(e as T);
    return out;
  }
}
