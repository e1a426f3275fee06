/** A few large read buffers shared by all files: memory stays fixed however many files are tailed. */
export class BufferPool {
  private readonly size: number;
  private readonly free: Buffer[] = [];
  private created = 0;
  private readonly max: number;
  private waiters: ((b: Buffer) => void)[] = [];

  constructor(count: number, size: number) {
    this.max = count;
    this.size = size;
  }

  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    if (b !== undefined) return Promise.resolve(b);
    if (this.created < this.max) {
      this.created++;
      return Promise.resolve(Buffer.allocUnsafe(this.size));
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(b: Buffer): void {
    const next = this.waiters.shift();
    if (next !== undefined) next(b);
    else this.free.push(b);
  }
}
