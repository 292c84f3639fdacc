// The WebSocket feed (docs/api.md section 7): the token in the first message, a snapshot,
// then events and vitals, one FeedMessage per line. Reconnects by itself with backoff and
// resumes after the last event id it saw. A feed that says nothing for `staleMs` (the daemon
// sends a heartbeat every second when asked) is treated as dead: a stale screen is a danger.

export const feedState = Object.freeze({ connecting: 'connecting', live: 'live', down: 'down', refused: 'refused' });

export class Feed {
  /// `handlers`: onSnapshot(snapshot), onEvent(event), onVitals(update), onResumed(done),
  /// onState(state, detail), all optional.
  constructor({ token, handlers, vitalsIntervalMs = 2000, heartbeatMs = 1000, staleMs = 3000 }) {
    this.token = token;
    this.handlers = handlers;
    this.vitalsIntervalMs = vitalsIntervalMs;
    this.heartbeatMs = heartbeatMs;
    this.staleMs = staleMs;
    this.lastEventId = null;  // string: 64-bit ids arrive as strings
    this.lastMessageAt = 0;   // Date.now() of the newest message, 0 before any
    this.state = feedState.connecting;
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.retryTimer = null;
    this.watchdog = setInterval(() => this.checkStale(), 250);
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, 'signed out');
  }

  setState(state, detail = '') {
    if (this.state === state && state !== feedState.down) return;
    this.state = state;
    this.handlers.onState?.(state, detail);
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/feed`);
    this.socket = socket;
    this.subscribed = false;
    this.openedAt = Date.now();
    socket.onopen = () => {
      const subscribe = { vitals_interval_ms: this.vitalsIntervalMs, heartbeat_ms: this.heartbeatMs };
      if (this.lastEventId !== null) subscribe.resume_after = this.lastEventId;
      socket.send(JSON.stringify({ token: this.token, subscribe }));
    };
    socket.onmessage = (m) => {
      if (socket !== this.socket) return;
      this.lastMessageAt = Date.now();
      for (const line of String(m.data).split('\n')) {
        if (line) this.dispatch(JSON.parse(line));
      }
    };
    socket.onclose = (e) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.lost(`connection closed${e.reason ? ` (${e.reason})` : ''}`);
    };
    socket.onerror = () => {};  // onclose follows and says what to do
  }

  dispatch(m) {
    if (m.snapshot) {
      this.lastEventId = m.snapshot.last_event_id ?? '0';
      this.attempt = 0;
      this.handlers.onSnapshot?.(m.snapshot);
      this.setState(feedState.live);
    } else if (m.event) {
      const e = m.event.event;
      if (e.event_id) this.lastEventId = e.event_id;
      this.handlers.onEvent?.(e);
    } else if (m.vitals) {
      this.handlers.onVitals?.(m.vitals);
    } else if (m.resumed) {
      this.lastEventId = m.resumed.last_event_id ?? this.lastEventId;
      this.attempt = 0;
      this.handlers.onResumed?.(m.resumed);
      this.setState(feedState.live);
    } else if (m.heartbeat) {
      // Every event up to it that we subscribe to has been sent before it.
      if (m.heartbeat.last_event_id && this.state === feedState.live) this.lastEventId = m.heartbeat.last_event_id;
    } else if (m.closing) {
      this.closing = m.closing;
      const error = m.closing.error;
      if (error === 'FEED_ERROR_RESUME_TOO_OLD') this.lastEventId = null;  // start again from a snapshot
      if (error === 'FEED_ERROR_UNAUTHORIZED') {
        this.stopped = true;
        this.setState(feedState.refused, m.closing.message);
      }
    }
  }

  /// The connection is gone: say so, and try again with backoff (0.5 s doubling to 5 s).
  lost(why) {
    if (this.stopped) return;
    this.setState(feedState.down, why);
    const delay = Math.min(5000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt = Math.min(this.attempt + 1, 4);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  checkStale() {
    if (this.stopped || !this.socket) return;
    const since = this.state === feedState.live ? this.lastMessageAt : this.openedAt;
    if (Date.now() - since > this.staleMs) {
      // Silent: the daemon or the network has stopped. Drop this connection and start over.
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close();
      this.lost(this.state === feedState.live ? 'no message from the daemon' : 'no answer from the daemon');
    }
  }
}
