package pve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// upid is a parsed PVE task ID:
// UPID:<node>:<pid hex>:<pstart hex>:<starttime hex>:<type>:<id>:<user>:
type upid struct {
	Node      string
	PID       uint64
	PStart    uint64
	StartTime time.Time
	Type      string
	ID        string
	User      string
	raw       string
}

// parseUPID parses a PVE UPID strictly; go-proxmox's NewTask
// panics or mis-parses when a field is missing, this returns an error.
func parseUPID(s string) (upid, error) {
	bad := func(why string) (upid, error) {
		return upid{}, fmt.Errorf("invalid task id %q: %s", s, why)
	}
	if !strings.HasPrefix(s, "UPID:") {
		return bad("does not start with UPID:")
	}
	if !strings.HasSuffix(s, ":") {
		return bad("missing the trailing colon")
	}
	f := strings.Split(strings.TrimSuffix(s, ":"), ":")
	// UPID node pid pstart starttime type id user → 8 fields.
	if len(f) != 8 {
		return bad(fmt.Sprintf("%d fields, want 8", len(f)))
	}
	node, pid, pstart, start, typ, id, user := f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	if node == "" || typ == "" || user == "" {
		return bad("empty node, type or user")
	}
	var u upid
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

// taskStatus is GET /nodes/{node}/tasks/{upid}/status.
type taskStatus struct {
	Status     string `json:"status"` // running | stopped
	ExitStatus string `json:"exitstatus"`
}

// running reports whether the task still runs.
func (s taskStatus) running() bool { return s.Status == "running" }

// ok reports success: "OK" or "WARNINGS: n" (a success with warnings;
// go-proxmox calls that a failure).
func (s taskStatus) ok() bool {
	return s.ExitStatus == "OK" || strings.HasPrefix(s.ExitStatus, "WARNINGS")
}

func taskPath(u upid) string {
	return "/nodes/" + url.PathEscape(u.Node) + "/tasks/" + url.PathEscape(u.raw)
}

// taskStatus reads a task's status.
func (c *Client) taskStatus(ctx context.Context, id string) (taskStatus, error) {
	u, err := parseUPID(id)
	if err != nil {
		return taskStatus{}, err
	}
	var st taskStatus
	err = c.Do(ctx, http.MethodGet, taskPath(u)+"/status", nil, &st)
	return st, err
}

// taskLog returns log lines from line start (0-based) and the total count.
func (c *Client) taskLog(ctx context.Context, id string, start int) ([]string, int, error) {
	u, err := parseUPID(id)
	if err != nil {
		return nil, 0, err
	}
	env, err := c.doEnv(ctx, http.MethodGet, taskPath(u)+"/log", map[string]any{"start": start, "limit": 500})
	if err != nil {
		return nil, 0, err
	}
	var lines []struct {
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

// WaitTask polls a task until it stops, streaming new log lines to out
// (may be nil) once each, in order. A task that ends with an error exit
// status returns *TaskError (go-proxmox's Task.Wait returns nil then).
// "WARNINGS: n" is success. Cancellation stops waiting, not the task.
func (c *Client) WaitTask(ctx context.Context, id string, out func(line string)) error {
	u, err := parseUPID(id)
	if err != nil {
		return err
	}
	next := 0
	var tail []string
	emit := func(lines []string) {
		for _, l := range lines {
			tail = append(tail, l)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if out != nil {
				out(l)
			}
		}
	}
	readLog := func() error {
		for {
			lines, total, err := c.taskLog(ctx, id, next)
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
		st, err := c.taskStatus(ctx, id)
		if err != nil {
			return fmt.Errorf("task %s status: %w", u.Type, err)
		}
		if err := readLog(); err != nil {
			return fmt.Errorf("task %s log: %w", u.Type, err)
		}
		if !st.running() {
			if st.ok() {
				return nil
			}
			return &TaskError{UPID: id, Type: u.Type, ExitStatus: st.ExitStatus, LogTail: tail}
		}
		t.Reset(c.cfg.TaskPoll)
	}
}
