/** Calls in flight by key: concurrent uses of one key (a burst right after a restart) share one call while it is out. */
export class InFlight<K, V> {
  private readonly calls = new Map<K, Promise<V>>();

  run(key: K, call: () => Promise<V>): Promise<V> {
    let running = this.calls.get(key);
    if (!running) {
      running = call().finally(() => this.calls.delete(key));
      this.calls.set(key, running);
    }
    return running;
  }

  has(key: K): boolean {
    return this.calls.has(key);
  }
}
