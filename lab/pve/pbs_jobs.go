package pve

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PBS prune jobs and schedules, validated as proxmox-backup-manager does
// through the API schema (proxmox/proxmox-rs: pbs-api-types/src/jobs.rs
// PruneJobConfig, JOB_ID_SCHEMA, PRUNE_SCHEDULE_SCHEMA, GC_SCHEDULE_SCHEMA;
// pbs-api-types/src/datastore.rs PRUNE_SCHEMA_KEEP_* with minimum 1;
// proxmox-schema/src/schema.rs parse_boolean and the parameter errors).

// pruneKeep are the retention options of a prune job, integers >= 1.
var pruneKeep = []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"}

// pruneJobProps are the properties `prune-job create/update` accept; any
// other is "schema does not allow additional properties".
var pruneJobProps = map[string]bool{"store": true, "schedule": true, "disable": true, "comment": true, "ns": true, "max-depth": true,
	"keep-last": true, "keep-hourly": true, "keep-daily": true, "keep-weekly": true, "keep-monthly": true, "keep-yearly": true,
	"delete": true, "digest": true}

// safeIDRe is PROXMOX_SAFE_ID (proxmox-schema/src/api_types.rs).
var safeIDRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._\-]*$`)

// parseBool is proxmox-schema's parse_boolean.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "on", "yes", "true":
		return true, true
	case "0", "off", "no", "false":
		return false, true
	}
	return false, false
}

// pruneJobErrors checks a prune-job create (id, all options) or update
// and returns proxmox-schema's per-parameter messages, sorted.
func pruneJobErrors(id string, opts map[string]string, create bool) []string {
	var errs []string
	add := func(k, msg string) { errs = append(errs, fmt.Sprintf("parameter '%s': %s", k, msg)) }
	if len(id) < 3 {
		add("id", "value must be at least 3 characters long")
	} else if len(id) > 32 {
		add("id", "value may only be 32 characters long")
	} else if !safeIDRe.MatchString(id) {
		add("id", "value does not match the regex pattern")
	}
	for k, v := range opts {
		switch {
		case !pruneJobProps[k]:
			add(k, "schema does not allow additional properties.")
		case strings.HasPrefix(k, "keep-") || k == "max-depth":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				add(k, "Expected integer value.")
			} else if k != "max-depth" && n < 1 {
				add(k, fmt.Sprintf("value must have a minimum value of 1 (got %d)", n))
			}
		case k == "delete":
			// DeletableProperty of update_prune_job.
			for _, d := range strings.Split(v, "\x00") {
				if d != "comment" && d != "disable" && d != "ns" && d != "max-depth" && !slices.Contains(pruneKeep, d) {
					add(k, fmt.Sprintf("value '%s' is not defined in the enumeration.", d))
				}
			}
		case k == "disable":
			if _, ok := parseBool(v); !ok {
				add(k, "Unable to parse boolean option.")
			}
		case k == "schedule":
			if err := verifyCalendarEvent(v); err != nil {
				add(k, err.Error())
			}
		case k == "store":
			if !safeIDRe.MatchString(v) || len(v) < 3 || len(v) > 32 {
				add(k, "value does not match the regex pattern")
			}
		}
	}
	if create {
		for _, k := range []string{"store", "schedule"} {
			if _, ok := opts[k]; !ok {
				add(k, "parameter is missing and it is not optional.")
			}
		}
	}
	sort.Strings(errs)
	return errs
}

// pruneJobJSON renders a stored job as the API returns it: kebab-case
// keys, keep-* and max-depth as integers, disable only when true
// (PruneJobConfig's serde attributes).
func pruneJobJSON(j map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range j {
		switch {
		case k == "kind":
		case strings.HasPrefix(k, "keep-") || k == "max-depth":
			n, _ := strconv.Atoi(v)
			out[k] = n
		case k == "disable":
			if b, _ := parseBool(v); b {
				out[k] = true
			}
		default:
			out[k] = v
		}
	}
	return out
}

var weekdayNames = map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true,
	"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true}

// verifyCalendarEvent accepts the calendar events of proxmox-time
// (proxmox-time/src/calendar_event.rs, verify_calendar_event) the lab
// understands: the keywords (minutely, hourly, daily, weekly, monthly,
// yearly, annually, quarterly, semiannually, semi-annually), an optional
// weekday list (mon, mon..fri, sat,sun) and a time HOUR:MINUTE[:SECOND]
// whose fields are *, numbers, ranges a..b, repetitions a/b and lists,
// optionally followed by UTC. Anything else is refused (stricter than the
// real parser, which also knows dates).
func verifyCalendarEvent(s string) error {
	bad := fmt.Errorf("unable to parse calendar event")
	i := strings.TrimSpace(strings.TrimSuffix(s, "UTC"))
	switch i {
	case "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually", "semi-annually":
		return nil
	case "":
		return bad
	}
	fields := strings.Fields(i)
	if len(fields) > 2 {
		return bad
	}
	if strings.IndexFunc(fields[0][:1], func(r rune) bool { return r >= 'a' && r <= 'z' }) == 0 {
		for _, part := range strings.Split(fields[0], ",") {
			from, to, isRange := strings.Cut(part, "..")
			if !weekdayNames[from] || isRange && !weekdayNames[to] {
				return bad
			}
		}
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return nil
	}
	if len(fields) > 1 {
		return bad
	}
	comps := strings.Split(fields[0], ":")
	if len(comps) < 2 || len(comps) > 3 {
		return bad
	}
	for k, c := range comps {
		max := 59
		if k == 0 {
			max = 23
		}
		if !timeComp(c, max) {
			return bad
		}
	}
	return nil
}

// timeComp checks one time field: *, N, N..M, N/M, */M, or a list.
func timeComp(c string, max int) bool {
	num := func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && n >= 0 && n <= max && len(s) <= 2
	}
	for _, part := range strings.Split(c, ",") {
		base, rep, hasRep := strings.Cut(part, "/")
		if hasRep && !num(rep) {
			return false
		}
		if base == "*" {
			continue
		}
		from, to, isRange := strings.Cut(base, "..")
		if !num(from) || isRange && !num(to) {
			return false
		}
	}
	return true
}
