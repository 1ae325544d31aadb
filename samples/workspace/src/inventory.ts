export interface Item {
  sku: string;
  name: string;
  quantity: number;
  reorderAt: number;
}

export class Inventory {
  private readonly items = new Map<string, Item>();

  add(item: Item): void {
    if (item.quantity < 0) throw new RangeError(`negative quantity for ${item.sku}`);
    this.items.set(item.sku, { ...item });
  }

  take(sku: string, count: number): number {
    const item = this.items.get(sku);
    if (!item) throw new Error(`unknown sku ${sku}`);
    const taken = Math.min(count, item.quantity);
    item.quantity -= taken;
    return taken;
  }

  /** Items at or below their reorder level, lowest stock first. */
  toReorder(): Item[] {
    return [...this.items.values()].filter((i) => i.quantity <= i.reorderAt).sort((a, b) => a.quantity - b.quantity);
  }
}
