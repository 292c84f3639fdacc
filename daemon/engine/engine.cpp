// The engine's core: chairs and their sources, the sample path, and the timer loop that asks
// every rule family when it is next due and lets each fire (docs/alarms.md sections 2 and 3).
// The families live in lifecycle.cpp, physiological.cpp, technical.cpp, artefact.cpp and
// phases.cpp; commands in commands.cpp; views and checkpoints in views.cpp (see core.hpp).

#include "daemon/engine/engine.hpp"

#include "daemon/engine/core.hpp"

#include <algorithm>
#include <utility>

namespace vigil::engine {
namespace detail {

const std::vector<escalation_tier>& tiers_for(const profile& p, priority level) {
  switch (level) {
    case priority::high: return p.escalation_high;
    case priority::medium: return p.escalation_medium;
    case priority::low: break;
  }
  return p.escalation_low;
}

void update_condition(chair_state& c, condition& cond, bool on, double value, millis delay) {
  if (on && !cond.on) {
    cond = {true, c.now, value};
    core::schedule(c, c.now + delay);
  } else if (on) {
    cond.value = value;
  } else {
    cond.on = false;
  }
}

// --- helpers --------------------------------------------------------------------------------

const profile* core::find_profile(std::string_view id) const {
  for (const auto& p : profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

chair_state& core::chair(std::string_view id) {
  auto it = chairs.find(id);
  if (it == chairs.end()) {
    it = chairs.emplace(std::string(id), chair_state{}).first;
    it->second.id = std::string(id);
  }
  return it->second;
}

chair_state* core::find_chair(std::string_view id) {
  auto it = chairs.find(id);
  return it == chairs.end() ? nullptr : &it->second;
}

void core::touch(chair_state& c) {
  if (c.changed) return;
  c.changed = true;
  changed.push_back(&c);
}

event& core::emit(chair_state& c, event_type type) {
  touch(c);
  event& e = events.emplace_back();
  e.type = type;
  e.at = c.now;
  e.chair = c.id;
  e.session = c.s ? c.s->id : 0;
  return e;
}

void core::emit_alarm(chair_state& c, event_type type, const alarm_rec& a) {
  event& e = emit(c, type);
  e.alarm = a.id;
  e.rule = a.rule;
  e.kind = a.kind;
  e.level = a.level;
  e.value = a.value;
  if (type == event_type::alarm_raised) e.text = a.text;
}

// --- time -----------------------------------------------------------------------------------

millis core::earliest_due(chair_state& c) {
  if (!c.s) return never;
  return std::min({physiological::due(*this, c), technical::due(*this, c), lifecycle::due(*this, c),
                   phases::due(*this, c)});
}

void core::run_timers(chair_state& c, millis until) {
  if (!c.s) {
    c.now = std::max(c.now, until);
    return;
  }
  for (;;) {
    const millis due = earliest_due(c);
    c.next_due = due;
    if (due > until) break;
    c.now = std::max(c.now, due);
    fire(c);
  }
  c.now = std::max(c.now, until);
}

void core::fire(chair_state& c) {
  touch(c);
  // Raising first, so that an alarm raised in this pass escalates to a tier at 0 s in it too.
  physiological::fire(*this, c);
  technical::fire(*this, c);
  lifecycle::fire(*this, c);
  phases::fire(*this, c);
}

void core::settle(chair_state& c) {
  if (c.s) phases::review_readiness(*this, c);
  run_timers(c, c.now);
}

void core::advance_chair(chair_state& c, millis at) {
  if (at > c.now && at >= c.next_due) {
    run_timers(c, at);
  } else {
    c.now = std::max(c.now, at);
  }
}

// --- samples --------------------------------------------------------------------------------

source_state& core::source(chair_state& c, std::string_view id) {
  // Its own slot, else the one of unknown id (a checkpoint from before sources), else a new
  // one, else that of the source heard least recently.
  for (auto& src : c.sources) {
    if (src.id == id) return src;
  }
  source_state* src = nullptr;
  for (auto& unknown : c.sources) {
    if (unknown.id.empty()) src = &unknown;
  }
  if (src == nullptr) {
    if (c.sources.size() < max_sources) {
      src = &c.sources.emplace_back();
    } else {
      src = &*std::min_element(c.sources.begin(), c.sources.end(),
                               [](const source_state& a, const source_state& b) { return a.heard < b.heard; });
      *src = source_state{};
    }
    if (c.s) src->limits.resize(c.s->prof->limits.size());
  }
  src->id = std::string(id);
  return *src;
}

sample_outcome core::on_sample(chair_state& c, const model::vital_sample& sample, std::string_view source_id,
                               artefact_reason* why, std::span<const model::vital_sample> batch) {
  touch(c);
  auto& src = source(c, source_id);
  const auto k = slot(sample.kind);
  if (src.last_time[k] && sample.time_ms < *src.last_time[k]) return sample_outcome::out_of_order;
  if (src.last_time[k] && sample.time_ms == *src.last_time[k]) return sample_outcome::duplicate;
  // Timers due before the sample's time fire first, those due at its time after it (a reading
  // that comes exactly when a condition's delay ends, or a stream's limit, is taken into account
  // before the timer: no alarm raised and cleared at one instant). next_due is exact after
  // every call, so when it is later than the sample there is nothing to look for.
  advance_chair(c, sample.time_ms - 1);
  c.now = std::max(c.now, sample.time_ms);
  if (src.last_time[k] && !is_cuff(sample.kind)) src.cadence[k].add(sample.time_ms - *src.last_time[k]);
  src.last_time[k] = sample.time_ms;
  src.heard = c.now;
  // Usable as its device sent it, and, in a session, not judged an artefact in context (3.6).
  const bool sent_good = artefact::usable(sample);
  const artefact_reason judged = sent_good && c.s ? artefact::judge(c, src, sample, batch) : artefact_reason::none;
  if (why != nullptr) *why = judged;
  if (sent_good) src.last_sent[k] = sample.value;
  const bool good = sent_good && judged == artefact_reason::none;
  if (good) src.latest[k] = latest_value{sample.time_ms, sample.value, c.now};

  if (!c.s) {
    if (!c.no_session) {
      alarm_rec a;
      a.id = next_alarm++;
      a.rule = "no_session";
      a.kind = alarm_kind::advisory;
      a.level = priority::low;
      a.raised_at = c.now;
      a.text = "chair is streaming vitals with no open session";
      c.no_session = a;
      emit_alarm(c, event_type::alarm_raised, a);
    }
    return sample_outcome::no_session;
  }

  auto& s = *c.s;
  technical::note_sample(*this, c, src, sample, good);
  if (!good) {
    run_timers(c, c.now);
    return judged != artefact_reason::none ? sample_outcome::artefact : sample_outcome::not_evaluated;
  }
  phases::note_baseline_sample(s, sample);
  if (is_cuff(sample.kind)) {
    technical::note_cuff(*this, c, sample.kind);
    phases::check_predose(*this, c, sample.kind, sample.value);
  }
  physiological::evaluate_limits(*this, c, src, sample.kind, sample.value);
  if (sample.kind != vital_kind::nibp_diastolic && sample.kind != vital_kind::nibp_mean) {
    physiological::evaluate_news2(*this, c, &sample);
  }
  phases::review_readiness(*this, c);
  run_timers(c, c.now);
  return sample_outcome::applied;
}

}  // namespace detail

// --- public API -------------------------------------------------------------------------------

engine::engine(std::vector<profile> profiles) : state_(std::make_unique<state>()) {
  if (profiles.empty()) profiles.push_back(generic_profile());
  state_->profiles = std::move(profiles);
}
engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

sample_outcome engine::on_sample(std::string_view chair, const model::vital_sample& sample, std::string_view source) {
  return state_->on_sample(state_->chair(chair), sample, source);
}

engine::outcome_counts engine::on_samples(std::string_view chair, std::span<const model::vital_sample> samples,
                                          std::string_view source, std::vector<judged_sample>* judged) {
  outcome_counts counts{};
  auto& c = state_->chair(chair);  // one lookup for the whole batch
  if (judged != nullptr) judged->clear();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    artefact_reason why = artefact_reason::none;
    const auto outcome = state_->on_sample(c, samples[i], source, &why, samples);
    ++counts[static_cast<std::size_t>(outcome)];
    if (judged != nullptr && why != artefact_reason::none) judged->push_back({i, why});
  }
  return counts;
}

void engine::declare_cadence(std::string_view chair, std::string_view source, model::vital_kind kind, millis interval) {
  auto& st = *state_;
  auto& c = st.chair(chair);
  const auto k = static_cast<std::size_t>(kind);
  if (k < 1 || k >= detail::kind_slots || detail::is_cuff(kind)) return;  // the cuff keeps its own schedule (7.4)
  const millis every = std::max<millis>(interval, 0);
  if (every == 0) {  // a withdrawal: a source the chair does not know has nothing to withdraw
    const auto known = std::find_if(c.sources.begin(), c.sources.end(), [&](const auto& s) { return s.id == source; });
    if (known == c.sources.end() || known->declared[k] == 0) return;
    known->declared[k] = 0;
    st.touch(c);
    return;
  }
  auto& src = st.source(c, source);
  if (src.declared[k] == every) return;
  src.declared[k] = every;
  st.touch(c);
}

void engine::on_device(std::string_view chair, bool connected, millis at) {
  auto& st = *state_;
  auto& c = st.chair(chair);
  st.advance_chair(c, at);
  st.touch(c);
  c.connected = connected;
  if (!c.s) return;
  detail::technical::note_link(st, c, connected);
  st.settle(c);
}

void engine::on_storage(bool saved) {
  auto& st = *state_;
  st.storage_saved = saved;
  for (auto& [id, c] : st.chairs) {
    detail::technical::note_storage(st, c);
    st.run_timers(c, c.now);
  }
}

void engine::advance(millis at) {
  for (auto& [id, c] : state_->chairs) state_->advance_chair(c, at);
}

void engine::advance(std::string_view chair, millis at) {
  if (auto* c = state_->find_chair(chair)) state_->advance_chair(*c, at);
}

}  // namespace vigil::engine
