// Alarm tones with Web Audio, one pattern per priority, after IEC 60601-1-8's melodies:
// high: a burst of ten pulses (3 + 2, pause, 3 + 2) repeated every 5 s; medium: three pulses
// every 8 s; low: two pulses every 16 s. Only the most urgent audible alarm sounds; an alarm
// acknowledged or a chair whose audio is paused is silent (the daemon's `audible` flag).
// Browsers start audio only after a user gesture: until then the page shows "Enable sound".

const patterns = {
  PRIORITY_HIGH: { pitch: 880, pulses: [0, 0.2, 0.4, 0.9, 1.1, 1.8, 2.0, 2.2, 2.7, 2.9], length: 0.15, every: 5 },
  PRIORITY_MEDIUM: { pitch: 660, pulses: [0, 0.3, 0.6], length: 0.2, every: 8 },
  PRIORITY_LOW: { pitch: 523, pulses: [0, 0.4], length: 0.25, every: 16 },
};

export class AlarmSound {
  constructor() {
    this.context = null;
    this.current = null;   // the priority sounding now, or null
    this.nextAt = 0;       // context time of the next repetition
    this.timer = setInterval(() => this.pump(), 200);
    this.played = [];      // [priority, Date.now()] of the last repetitions, for tests and the status line
  }

  /// Whether sound can play: false until a user gesture has resumed the audio context.
  get enabled() {
    return this.context !== null && this.context.state === 'running';
  }

  /// Call from a click or key press.
  async enable() {
    this.context ??= new AudioContext();
    await this.context.resume();
    return this.enabled;
  }

  /// The most urgent priority that should sound now, or null for silence.
  set(priority) {
    if (priority === this.current) return;
    this.current = priority;
    this.nextAt = 0;  // a new, more urgent alarm starts its pattern at once
  }

  pump() {
    if (!this.current || !this.enabled) return;
    const now = this.context.currentTime;
    if (now < this.nextAt - 0.25) return;
    const p = patterns[this.current];
    const start = Math.max(now + 0.05, this.nextAt);
    for (const offset of p.pulses) this.pulse(p.pitch, start + offset, p.length);
    this.nextAt = start + p.every;
    this.played.push([this.current, Date.now()]);
    if (this.played.length > 20) this.played.shift();
  }

  pulse(pitch, at, length) {
    const osc = this.context.createOscillator();
    const gain = this.context.createGain();
    osc.type = 'square';
    osc.frequency.value = pitch;
    // Soft edges, so pulses are heard as tones rather than clicks; harmonics from the square wave
    // make them easier to locate, as the standard asks.
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.15, at + 0.02);
    gain.gain.setValueAtTime(0.15, at + length - 0.03);
    gain.gain.linearRampToValueAtTime(0, at + length);
    osc.connect(gain).connect(this.context.destination);
    osc.start(at);
    osc.stop(at + length + 0.01);
  }
}
