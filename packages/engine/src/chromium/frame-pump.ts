import type { CDPSession } from 'playwright-core';

/** How animation frames reach pages: issued by the renderer (`on-demand`) or by Chromium's 60 Hz clock (`paced`). */
export type FrameMode = 'on-demand' | 'paced';

/**
 * Launch flags for frames on demand (chrome-headless-shell only): begin-frame control, for targets created with
 * `enableBeginFrameControl`, and the synchronous compositor HeadlessExperimental.beginFrame requires.
 */
export const ON_DEMAND_FRAME_ARGS = ['--enable-begin-frame-control', '--run-all-compositor-stages-before-draw'];

/** Chromium's own pace for a visible page: a render's page gets no more frames than this outside the window. */
const FRAME_INTERVAL_MS = 1000 / 60;
/** Back-to-back frames per readiness window: its task turn may take the first, then its two frames, one spare. */
const BURST_FRAMES = 4;
/**
 * One begin frame in flight per browser, whichever page it is for. Chromium's display compositor (the GPU
 * process) takes a begin frame issued while another is unanswered as a bad message and exits; after six such exits
 * the browser ends itself ("GPU process isn't usable"). Measured on chrome-headless-shell 153 with four pages
 * pumped at once: one frame at a time per page was not enough, one at a time per browser was.
 */
export interface FrameGate {
  /** the last frame issued (settled once answered, or failed) */
  last: Promise<unknown>;
}

export function frameGate(): FrameGate {
  return { last: Promise.resolve() };
}

/**
 * The animation frames of one page under begin-frame control, which gets none unless they are issued: while a
 * render runs, one every 1/60 s (pages with requestAnimationFrame loops, IntersectionObservers, lazy images and
 * CSS animations progress as on a visible page at 60 Hz, and get no more), and back to back while the readiness
 * window (spec §9.1, page-runtime.ts `settle`) waits for its two frames, so the window costs a few milliseconds
 * of frames instead of two 60 Hz ticks. Between renders the page gets no frames at all.
 */
export class FramePump {
  private running = false;
  /** one loop at a time: a restart right after stop() leaves the old loop to end on its own */
  private loop = 0;
  private burst = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly cdp: CDPSession,
    private readonly gate: FrameGate,
  ) {}

  /** Start issuing frames at 60 Hz (until stop). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.burst = 0;
    void this.run(++this.loop);
  }

  stop(): void {
    this.running = false;
    this.burst = 0;
    this.wakeUp();
  }

  /** Frames back to back (at most BURST_FRAMES) until `window` settles; then 60 Hz again. */
  async hurry<T>(window: Promise<T>): Promise<T> {
    this.burst = BURST_FRAMES;
    this.wakeUp();
    try {
      return await window;
    } finally {
      this.burst = 0;
    }
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async run(loop: number): Promise<void> {
    const current = () => this.running && this.loop === loop;
    while (current()) {
      const started = performance.now();
      await this.frame();
      if (!current()) return;
      if (this.burst > 0) {
        this.burst--;
        continue;
      }
      const rest = FRAME_INTERVAL_MS - (performance.now() - started);
      if (rest > 0) await this.sleep(rest);
    }
  }

  /**
   * One frame, issued once the browser's frame before it (any page's) has been answered. A page whose frame is not
   * answered holds every page's frames in that browser until it answers or closes (a timed-out render's page is
   * closed); the pages' runtimes then wait for frames (no timer stands in under frames on demand, page-runtime.ts),
   * so a held frame can cost time, never an early print.
   */
  private async frame(): Promise<void> {
    const turn = this.gate.last.then(() => {
      // Errors (the page navigating, closing or crashing) are the render's business, not the pump's.
      return this.cdp.send('HeadlessExperimental.beginFrame', {}).catch(() => undefined);
    });
    this.gate.last = turn;
    await turn;
  }

  /** Waits `ms`, or less when hurry() or stop() wakes the pump. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
