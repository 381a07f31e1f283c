package pve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// UPID is a parsed PVE task ID:
// UPID:<node>:<pid hex>:<pstart hex>:<starttime hex>:<type>:<id>:<user>:
type UPID struct {
	Node      string
	PID       uint64
	PStart    uint64
	StartTime time.Time
	Type      string
	ID        string
	User      string
	raw       string
}

// String returns the UPID as PVE wrote it.
func (u UPID) String() string { return u.raw }

// ParseUPID parses a PVE (or PBS) UPID strictly; go-proxmox's NewTask
// panics or mis-parses when a field is missing, this returns an error.
func ParseUPID(s string) (UPID, error) {
	bad := func(why string) (UPID, error) {
		return UPID{}, fmt.Errorf("invalid task id %q: %s", s, why)
	}
	if !strings.HasPrefix(s, "UPID:") {
		return bad("does not start with UPID:")
	}
	if !strings.HasSuffix(s, ":") {
		return bad("missing the trailing colon")
	}
	f := strings.Split(strings.TrimSuffix(s, ":"), ":")
	// PVE: UPID node pid pstart starttime type id user → 8 fields.
	// PBS adds a task counter after pstart: 9 fields.
	var node, pid, pstart, start, typ, id, user string
	switch len(f) {
	case 8:
		node, pid, pstart, start, typ, id, user = f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	case 9:
		node, pid, pstart, start, typ, id, user = f[1], f[2], f[3], f[5], f[6], f[7], f[8]
	default:
		return bad(fmt.Sprintf("%d fields, want 8 (PVE) or 9 (PBS)", len(f)))
	}
	if node == "" || typ == "" || user == "" {
		return bad("empty node, type or user")
	}
	var u UPID
	var err error
	if u.PID, err = strconv.ParseUint(pid, 16, 64); err != nil {
		return bad("pid is not hex")
	}
	if u.PStart, err = strconv.ParseUint(pstart, 16, 64); err != nil {
		return bad("pstart is not hex")
	}
	st, err := strconv.ParseUint(start, 16, 64)
	if err != nil {
		return bad("starttime is not hex")
	}
	u.StartTime = time.Unix(int64(st), 0)
	u.Node, u.Type, u.ID, u.User, u.raw = node, typ, id, user, s
	return u, nil
}

// TaskStatus is GET /nodes/{node}/tasks/{upid}/status.
type TaskStatus struct {
	Status     string `json:"status"` // running | stopped
	ExitStatus string `json:"exitstatus"`
	Type       string `json:"type"`
	ID         string `json:"id"`
	User       string `json:"user"`
}

// Running reports whether the task still runs.
func (s TaskStatus) Running() bool { return s.Status == "running" }

// OK reports success: "OK" or "WARNINGS: n" (a success with warnings;
// go-proxmox calls that a failure).
func (s TaskStatus) OK() bool {
	return s.ExitStatus == "OK" || strings.HasPrefix(s.ExitStatus, "WARNINGS")
}

func taskPath(u UPID) string {
	return "/nodes/" + url.PathEscape(u.Node) + "/tasks/" + url.PathEscape(u.raw)
}

// TaskStatus reads a task's status.
func (c *Client) TaskStatus(ctx context.Context, upid string) (TaskStatus, error) {
	u, err := ParseUPID(upid)
	if err != nil {
		return TaskStatus{}, err
	}
	var st TaskStatus
	err = c.Do(ctx, http.MethodGet, taskPath(u)+"/status", nil, &st)
	return st, err
}

// TaskLog returns log lines from line start (0-based) and the total count.
func (c *Client) TaskLog(ctx context.Context, upid string, start int) ([]string, int, error) {
	u, err := ParseUPID(upid)
	if err != nil {
		return nil, 0, err
	}
	env, err := c.doEnv(ctx, http.MethodGet, taskPath(u)+"/log", map[string]any{"start": start, "limit": 500})
	if err != nil {
		return nil, 0, err
	}
	var lines []struct {
		N int    `json:"n"`
		T string `json:"t"`
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &lines); err != nil {
			return nil, 0, fmt.Errorf("task log: %w", err)
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.T
	}
	total := start + len(out)
	if env.Total != nil {
		total = *env.Total
	}
	return out, total, nil
}

// WaitOptions tune WaitTaskWith.
type WaitOptions struct {
	// Out receives each task log line once, in order, as it appears.
	Out func(line string)
	// Progress receives a fraction (0..1) parsed from the log ("45%",
	// "transferred … (12.50%)"), or -1 when the line says nothing about
	// it, with the latest line.
	Progress func(fraction float64, line string)
	// Poll is the polling interval (default Config.TaskPoll).
	Poll time.Duration
	// From is the first log line (0-based) to deliver: resume a wait
	// without repeating lines already seen.
	From int
}

// WaitTask polls a task until it stops, streaming new log lines to out
// (may be nil). A task that ends with an error exit status returns
// *TaskError (go-proxmox's Task.Wait returns nil then). "WARNINGS: n" is
// success. Cancellation stops waiting, not the task.
func (c *Client) WaitTask(ctx context.Context, upid string, out func(line string)) error {
	return c.WaitTaskWith(ctx, upid, WaitOptions{Out: out})
}

var pctRe = regexp.MustCompile(`(\d{1,3}(?:\.\d+)?)\s*%`)

// WaitTaskWith is WaitTask with options.
func (c *Client) WaitTaskWith(ctx context.Context, upid string, o WaitOptions) error {
	u, err := ParseUPID(upid)
	if err != nil {
		return err
	}
	poll := o.Poll
	if poll <= 0 {
		poll = c.cfg.TaskPoll
	}
	next := max(o.From, 0)
	var tail []string
	emit := func(lines []string) {
		for _, l := range lines {
			tail = append(tail, l)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if o.Out != nil {
				o.Out(l)
			}
			if o.Progress != nil {
				f := -1.0
				if m := pctRe.FindAllStringSubmatch(l, -1); m != nil {
					if v, err := strconv.ParseFloat(m[len(m)-1][1], 64); err == nil && v <= 100 {
						f = v / 100
					}
				}
				o.Progress(f, l)
			}
		}
	}
	readLog := func() error {
		for {
			lines, total, err := c.TaskLog(ctx, upid, next)
			if err != nil {
				return err
			}
			// "no content" is PVE's placeholder for an empty log.
			if !(next == 0 && total <= 1 && len(lines) == 1 && lines[0] == "no content") {
				emit(lines)
				next += len(lines)
			}
			if len(lines) == 0 || next >= total {
				return nil
			}
		}
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for task %s (%s): %w", u.Type, u.ID, ctx.Err())
		case <-t.C:
		}
		st, err := c.TaskStatus(ctx, upid)
		if err != nil {
			return fmt.Errorf("task %s status: %w", u.Type, err)
		}
		if err := readLog(); err != nil {
			return fmt.Errorf("task %s log: %w", u.Type, err)
		}
		if !st.Running() {
			if st.OK() {
				return nil
			}
			return &TaskError{UPID: upid, Type: u.Type, ExitStatus: st.ExitStatus, LogTail: tail}
		}
		t.Reset(poll)
	}
}
