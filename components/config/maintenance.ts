/**
 * Section: the weekly window in which AKS may apply Kubernetes patch upgrades and node OS image
 * upgrades (aksManagedAutoUpgradeSchedule and aksManagedNodeOSUpgradeSchedule), instead of at any hour.
 */
import type { Reader } from "./reader";

export const WEEKDAYS = [
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
  "Sunday",
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceSettings {
  readonly day: Weekday;
  /** HH:mm in utcOffset. */
  readonly startTime: string;
  readonly utcOffset: string;
  readonly durationHours: number;
}

export function maintenanceSection(r: Reader): MaintenanceSettings {
  const dayText = r.string("maintenanceDay");
  const day = WEEKDAYS.find((d) => d.toLowerCase() === dayText.toLowerCase());
  if (day === undefined) {
    r.problem(
      "maintenanceDay",
      dayText,
      `is not a weekday (${WEEKDAYS.join(", ")})`,
      "pulumi config set maintenanceDay Sunday",
    );
  }
  const startTime = r.matching(
    "maintenanceStartTime",
    /^([01]\d|2[0-3]):[0-5]\d$/,
    "is not a time of day as HH:mm (00:00-23:59)",
    "pulumi config set maintenanceStartTime 02:00",
  );
  const utcOffset = r.matching(
    "maintenanceUtcOffset",
    /^[+-](0\d|1[0-4]):[0-5]\d$/,
    "is not a UTC offset as +HH:mm or -HH:mm",
    "pulumi config set maintenanceUtcOffset +01:00 (or -- -05:00 for a negative offset)",
  );
  // AKS accepts windows of 4 to 24 hours (MaintenanceWindow.durationHours, API 2025-09-01).
  const durationHours = r.number(
    "maintenanceDurationHours",
    true,
    4,
    24,
    "pulumi config set maintenanceDurationHours 4",
  );
  return { day: day ?? "Sunday", startTime, utcOffset, durationHours };
}
