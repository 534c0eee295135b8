// What the racing and creatives views share about GET /v1/racing-timeline/{line}: its windows and hour labels.
import { linePath } from "./line_form.js";

// The windows offered, in hours; the API accepts 1 to 168 (TimelineLimits.max_hours).
export const HOUR_CHOICES = [
  ["24", "last 24 hours"],
  ["72", "last 3 days"],
  ["168", "last 7 days"],
];

export function hoursOf(value) {
  return HOUR_CHOICES.some(([v]) => v === value) ? value : "24";
}

export function timelinePath(line) {
  return linePath("/v1/racing-timeline", line);
}

// An hour (in hours since the epoch) as "15:00", or "11-30 15h" when the window spans days.
export function hourLabel(epochHours, hours) {
  const at = new Date(Math.round(epochHours) * 3600000).toISOString();
  return Number(hours) <= 24 ? at.slice(11, 16) : `${at.slice(5, 10)} ${at.slice(11, 13)}h`;
}
