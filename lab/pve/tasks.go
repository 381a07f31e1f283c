package pve

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Task is a worker task (UPID) with its log.
type Task struct {
	UPID     string    `json:"upid"`
	Node     string    `json:"node"`
	PID      int       `json:"pid"`
	PStart   int       `json:"pstart"`
	Start    int64     `json:"starttime"`
	Type     string    `json:"type"`
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Log      []string  `json:"log"`
	Exit     string    `json:"exit"` // final exit status
	FinishAt time.Time `json:"finish_at"`
}

func (t *Task) running(now time.Time) bool { return now.Before(t.FinishAt) }

// newTask records a task whose effect has been applied (or failed with
// errText); it reports "running" for dur (scaled), then its exit status.
func (n *Node) newTask(typ, id, user string, dur time.Duration, lines []string, errText string) *Task {
	m := n.m
	m.NextPID += 1 + int(time.Now().UnixNano()%7)
	now := time.Now()
	t := &Task{
		Node: m.Hostname, PID: m.NextPID, PStart: int(now.Sub(m.Booted).Seconds()*100) + 1000,
		Start: now.Unix(), Type: typ, ID: id, User: user,
		FinishAt: now.Add(n.scaled(dur)),
	}
	t.UPID = fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", t.Node, t.PID, t.PStart, t.Start, typ, id, user)
	t.Log = append(t.Log, lines...)
	if errText == "" {
		t.Exit = "OK"
		t.Log = append(t.Log, "TASK OK")
	} else {
		t.Exit = errText
		t.Log = append(t.Log, "TASK ERROR: "+errText)
	}
	m.Tasks = append(m.Tasks, t)
	if len(m.Tasks) > 500 {
		m.Tasks = m.Tasks[len(m.Tasks)-500:]
	}
	return t
}

func (n *Node) task(upid string) *Task {
	for i := len(n.m.Tasks) - 1; i >= 0; i-- {
		if n.m.Tasks[i].UPID == upid {
			return n.m.Tasks[i]
		}
	}
	return nil
}

// parseUPID checks the UPID shape (pve-common UPID.pm).
func parseUPID(s string) (node string, ok bool) {
	p := strings.Split(s, ":")
	if len(p) != 9 || p[0] != "UPID" || p[8] != "" {
		return "", false
	}
	for _, h := range p[2:5] {
		if _, err := strconv.ParseUint(h, 16, 64); err != nil {
			return "", false
		}
	}
	return p[1], true
}

func (t *Task) statusJSON(now time.Time) map[string]any {
	out := map[string]any{
		"upid": t.UPID, "node": t.Node, "pid": t.PID, "pstart": t.PStart, "starttime": t.Start,
		"type": t.Type, "id": t.ID, "user": t.User, "status": "running",
	}
	if i := strings.Index(t.User, "!"); i > 0 {
		out["user"] = t.User[:i]
		out["tokenid"] = t.User[i+1:]
	}
	if !t.running(now) {
		out["status"] = "stopped"
		out["exitstatus"] = t.Exit
		out["endtime"] = t.FinishAt.Unix()
	}
	return out
}

// visibleLog is the log as far as written at now (the last line appears at the end).
func (t *Task) visibleLog(now time.Time) []string {
	if !t.running(now) {
		return t.Log
	}
	if len(t.Log) <= 1 {
		return nil
	}
	total := t.FinishAt.Sub(time.Unix(t.Start, 0))
	if total <= 0 {
		return t.Log[:len(t.Log)-1]
	}
	frac := float64(now.Sub(time.Unix(t.Start, 0))) / float64(total)
	k := int(frac * float64(len(t.Log)-1))
	if k < 0 {
		k = 0
	}
	return t.Log[:k]
}
