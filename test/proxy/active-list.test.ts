import { describe, expect, it } from 'vitest';
import { ActiveList, type ActiveEntry } from '../../src/proxy/active-list.js';

class Entry implements ActiveEntry {
  activePrev: Entry | null = null;
  activeNext: Entry | null = null;
  constructor(readonly name: string) {}
}

const names = (list: ActiveList<Entry>) => list.toArray().map((e) => e.name);

describe('ActiveList', () => {
  it('holds what was added and not deleted, newest first', () => {
    const list = new ActiveList<Entry>();
    const [a, b, c] = [new Entry('a'), new Entry('b'), new Entry('c')];
    list.add(a);
    list.add(b);
    list.add(c);
    expect(list.size).toBe(3);
    expect(names(list)).toEqual(['c', 'b', 'a']);
    list.delete(b); // middle
    expect(names(list)).toEqual(['c', 'a']);
    list.delete(c); // head
    expect(names(list)).toEqual(['a']);
    list.delete(a); // last one
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
  });

  it('leaves a deleted entry pointing at nothing (a finished request must not keep later ones alive)', () => {
    const list = new ActiveList<Entry>();
    const [a, b, c] = [new Entry('a'), new Entry('b'), new Entry('c')];
    for (const e of [a, b, c]) list.add(e);
    list.delete(b);
    expect(b.activePrev).toBeNull();
    expect(b.activeNext).toBeNull();
    expect(c.activeNext).toBe(a);
    expect(a.activePrev).toBe(c);
  });

  it('ignores deleting an entry twice or one never added', () => {
    const list = new ActiveList<Entry>();
    const [a, b, stranger] = [new Entry('a'), new Entry('b'), new Entry('x')];
    list.add(a);
    list.add(b);
    list.delete(a);
    list.delete(a);
    list.delete(stranger);
    expect(list.size).toBe(1);
    expect(names(list)).toEqual(['b']);
  });

  it('lets entries delete themselves while a copy is gone through (shutdown aborts every exchange)', () => {
    const list = new ActiveList<Entry>();
    const all = Array.from({ length: 5 }, (_, i) => new Entry(String(i)));
    for (const e of all) list.add(e);
    for (const e of list.toArray()) list.delete(e);
    expect(list.size).toBe(0);
    expect(all.every((e) => e.activePrev === null && e.activeNext === null)).toBe(true);
  });
});
