// Alarm events (streamix.h): runs of flagged readings with a minimum gap between events.
#include <cstring>

#include "streamix/streamix.h"

namespace {

bool tracker_is_valid(const smx_alarm_events* t) {
  return t != nullptr && t->min_gap >= 1 && t->open <= 1 &&
         (t->open == 0 || (t->event.first <= t->event.last && t->event.last < t->next));
}

}  // namespace

extern "C" {

smx_status smx_alarm_events_init(smx_alarm_events* t, uint32_t min_gap) {
  if (t == nullptr || min_gap == 0) return SMX_ERR_ARGUMENT;
  std::memset(t, 0, sizeof *t);
  t->min_gap = min_gap;
  return SMX_OK;
}

smx_status smx_alarm_events_feed(smx_alarm_events* t, uint64_t index, const smx_detection* d,
                                 smx_alarm_event* event, int* ended) {
  if (!tracker_is_valid(t) || d == nullptr || event == nullptr || ended == nullptr ||
      index < t->next || index == UINT64_MAX)
    return SMX_ERR_ARGUMENT;
  *ended = 0;
  // Readings skipped between calls count as unflagged: the gap may already have closed it.
  if (t->open && index - t->event.last > t->min_gap) {
    *event = t->event;
    *ended = 1;
    t->open = 0;
  }
  if (d->is_anomaly) {
    if (!t->open) {
      t->open = 1;
      t->event = smx_alarm_event{index, index, 0, d->surprise, d->score, d->top_feature};
    }
    ++t->event.flagged;
    t->event.last = index;
    if (d->surprise > t->event.peak_surprise) {
      t->event.peak_surprise = d->surprise;
      t->event.peak_score = d->score;
      t->event.top_feature = d->top_feature;
    }
  } else if (t->open && index - t->event.last >= t->min_gap) {
    *event = t->event;
    *ended = 1;
    t->open = 0;
  }
  t->next = index + 1;
  return SMX_OK;
}

smx_status smx_alarm_events_flush(smx_alarm_events* t, smx_alarm_event* event, int* ended) {
  if (!tracker_is_valid(t) || event == nullptr || ended == nullptr) return SMX_ERR_ARGUMENT;
  *ended = t->open ? 1 : 0;
  if (t->open) *event = t->event;
  t->open = 0;
  return SMX_OK;
}

}  // extern "C"
