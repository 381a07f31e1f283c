package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseFault parses a fault given on the command line (`tappaas lab serve`,
// `--lab-fault`):
//
//	api:METHOD /path[=N]       fail a PVE API call N times (default 1) with 500
//	opnsense:METHOD /path[=N]  fail a firewall API call N times with 500
//	ssh:command prefix[=N]     fail a node shell command N times (exit 1)
//	slow:prefix=DURATION       delay matching API calls and commands
//	drop:K                     sever the SSH link when the K-th command arrives
//
// api+after, opnsense+after and ssh+after apply the call first and fail
// only its reply; drop+after:K severs the link after the K-th command ran.
func ParseFault(spec string) (Fault, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return Fault{}, fmt.Errorf("fault %q: want api:…, opnsense:…, ssh:…, slow:… or drop:K", spec)
	}
	kind, after := strings.CutSuffix(kind, "+after")
	if after && kind == "slow" {
		return Fault{}, fmt.Errorf("fault %q: +after applies to api, opnsense, ssh and drop", spec)
	}
	f, err := parseFault(spec, kind, rest)
	f.After = after
	return f, err
}

func parseFault(spec, kind, rest string) (Fault, error) {
	split := func(s string) (string, string) {
		if i := strings.LastIndex(s, "="); i > 0 {
			return s[:i], s[i+1:]
		}
		return s, ""
	}
	times := func(n string) (int, error) {
		if n == "" {
			return 1, nil
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return 0, fmt.Errorf("fault %q: the count after = must be a positive number", spec)
		}
		return v, nil
	}
	switch kind {
	case "api", "opnsense":
		m, n := split(rest)
		if !strings.Contains(m, " /") {
			return Fault{}, fmt.Errorf("fault %q: want %s:METHOD /path[=N]", spec, kind)
		}
		t, err := times(n)
		return Fault{Face: kind, Match: m, Times: t}, err
	case "ssh":
		m, n := split(rest)
		t, err := times(n)
		return Fault{Face: "ssh", Match: m, Times: t}, err
	case "slow":
		m, d := split(rest)
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return Fault{}, fmt.Errorf("fault %q: want slow:prefix=DURATION (e.g. 20s)", spec)
		}
		return Fault{Match: m, Delay: dur, Times: -1}, nil
	case "drop":
		k, err := strconv.Atoi(rest)
		if err != nil || k < 1 {
			return Fault{}, fmt.Errorf("fault %q: want drop:K with K ≥ 1", spec)
		}
		return Fault{Face: "ssh", DropAt: k}, nil
	}
	return Fault{}, fmt.Errorf("fault %q: unknown kind %q (api, opnsense, ssh, slow, drop)", spec, kind)
}
