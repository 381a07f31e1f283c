package pbs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Retention of the datastore, as upstream's backup install sets it
// (TAPPaaS@f54e4fc:src/foundation/backup/install.sh:204-227): a prune job
// "prune-<datastore>" daily at 02:00 keeping the last 4 backups, 14 daily,
// 8 weekly, 12 monthly and 6 yearly ones, and garbage collection daily at
// 03:00, after the prune, so pruned chunks are freed. Without them backups
// grow until the pool is full.
const (
	PruneSchedule = "02:00"
	GCSchedule    = "03:00"
)

// PruneKeep are the prune job's keep-* options (upstream's values).
var PruneKeep = []struct {
	Option string
	N      int
}{{"keep-last", 4}, {"keep-daily", 14}, {"keep-weekly", 8}, {"keep-monthly", 12}, {"keep-yearly", 6}}

// PruneJobID is the prune job of datastore ds (upstream's name).
func PruneJobID(ds string) string { return "prune-" + ds }

// Retention creates or corrects the datastore's prune job and sets its
// garbage-collection schedule.
type Retention struct {
	Node exec.Executor
	Cfg  config.Install
}

func (s *Retention) ID() string { return "pbs.retention" }

func (s *Retention) Title() string { return "PBS prune job and garbage collection" }

func (s *Retention) Needs() []string { return []string{"pbs.datastore"} }

func (s *Retention) Touches() []string { return []string{"pbs:config"} }

func (s *Retention) jobID() string { return PruneJobID(s.Cfg.Backup.Datastore) }

func (s *Retention) Describe(*steps.Runtime) []string {
	var keep []string
	for _, k := range PruneKeep {
		keep = append(keep, fmt.Sprintf("%s %d", k.Option, k.N))
	}
	return []string{
		fmt.Sprintf("prune job %s on %s at %s: %s", s.jobID(), s.Cfg.Backup.Datastore, PruneSchedule, strings.Join(keep, ", ")),
		fmt.Sprintf("garbage collection of %s at %s", s.Cfg.Backup.Datastore, GCSchedule),
	}
}

// pruneJob is a prune job as `prune-job list --output-format json` shows it.
type pruneJob map[string]any

// differs says what of job is not as wanted ("" when nothing).
func (s *Retention) differs(job pruneJob) string {
	if v, _ := job["store"].(string); v != s.Cfg.Backup.Datastore {
		return fmt.Sprintf("store is %q", v)
	}
	if v, _ := job["schedule"].(string); v != PruneSchedule {
		return fmt.Sprintf("schedule is %q", v)
	}
	if v, _ := job["disable"].(bool); v {
		return "it is disabled"
	}
	for _, k := range PruneKeep {
		if v, ok := job[k.Option].(float64); !ok || int(v) != k.N {
			return fmt.Sprintf("%s is %v", k.Option, job[k.Option])
		}
	}
	for _, o := range []string{"keep-hourly", "ns", "max-depth"} {
		if v, ok := job[o]; ok {
			return fmt.Sprintf("%s is set (%v)", o, v)
		}
	}
	return ""
}

// state reads the prune job (nil when missing) and the GC schedule.
func (s *Retention) state(ctx context.Context) (pruneJob, string, error) {
	var jobs []pruneJob
	if err := pbsJSON(ctx, s.Node, "prune-job list", &jobs); err != nil {
		return nil, "", err
	}
	var job pruneJob
	for _, j := range jobs {
		if id, _ := j["id"].(string); id == s.jobID() {
			job = j
		}
	}
	var ds struct {
		GCSchedule string `json:"gc-schedule"`
	}
	if err := pbsJSON(ctx, s.Node, "datastore show "+exec.Quote(s.Cfg.Backup.Datastore), &ds); err != nil {
		return nil, "", err
	}
	return job, ds.GCSchedule, nil
}

func (s *Retention) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	job, gc, err := s.state(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	switch {
	case job == nil:
		return steps.NotDone("prune job %s does not exist", s.jobID()), nil
	case s.differs(job) != "":
		return steps.NotDone("prune job %s: %s", s.jobID(), s.differs(job)), nil
	case gc != GCSchedule:
		return steps.NotDone("garbage collection of %s is scheduled %q, not %s", s.Cfg.Backup.Datastore, gc, GCSchedule), nil
	}
	return steps.Done("prune job %s at %s, garbage collection at %s", s.jobID(), PruneSchedule, GCSchedule), nil
}

func (s *Retention) Apply(ctx context.Context, rt *steps.Runtime) error {
	job, gc, err := s.state(ctx)
	if err != nil {
		return err
	}
	if job == nil || s.differs(job) != "" {
		verb := "create"
		args := []string{"--store", s.Cfg.Backup.Datastore, "--schedule", PruneSchedule, "--disable", "false"}
		if job != nil {
			verb = "update"
			// Options upstream does not set are removed.
			for _, o := range []string{"keep-hourly", "ns", "max-depth"} {
				if _, ok := job[o]; ok {
					args = append(args, "--delete", o)
				}
			}
		}
		for _, k := range PruneKeep {
			args = append(args, "--"+k.Option, strconv.Itoa(k.N))
		}
		cmd := append([]string{"proxmox-backup-manager", "prune-job", verb, s.jobID()}, args...)
		if _, err := node.Run(ctx, rt, s.Node, exec.Join(cmd...)); err != nil {
			return err
		}
	}
	if gc != GCSchedule {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("proxmox-backup-manager", "datastore", "update", s.Cfg.Backup.Datastore, "--gc-schedule", GCSchedule)); err != nil {
			return err
		}
	}
	return nil
}
