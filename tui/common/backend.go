package common

import (
	"context"
	"time"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// Backend is everything the TUI needs from the outside world. The TUI never
// does IO itself: cmd wires a Backend for the lab, for a real node, or a fake
// for tests. Every method may be slow and is only called from a tea.Cmd.
type Backend interface {
	// NodeInfo says what the node is and whether an earlier run left a
	// checkpoint.
	NodeInfo(ctx context.Context) (NodeInfo, error)
	// Detect returns wizard defaults and what was found on the node (NICs,
	// disks).
	Detect(ctx context.Context) (Detected, error)
	// Preflight runs read-only checks for a request.
	Preflight(ctx context.Context, req Request) ([]Check, error)
	// Plan builds the job for a request.
	Plan(ctx context.Context, req Request) (Job, error)
	// Summary says what a finished run built (URLs, credentials, next steps).
	Summary(ctx context.Context, req Request) (Summary, error)
}

// Job is one plan ready to run.
type Job interface {
	// Name of the plan ("install", "join").
	Name() string
	// Steps in run order, with Describe output and earlier checkpoints.
	Steps() []steps.StepInfo
	// Run executes the plan, sending every event to emit (which never
	// blocks), and returns when the plan is done, failed, paused or ctx is
	// cancelled. It is called at most once per Job.
	Run(ctx context.Context, emit func(steps.Event)) error
	// Pause asks the run to finish the running step(s) and stop; the
	// checkpoint is kept. Safe to call from any goroutine, any time.
	Pause()
}

// Goal says what a plan is for.
type Goal int

// Goals.
const (
	GoalInstall Goal = iota
	GoalResume
	GoalJoin
)

func (g Goal) String() string {
	switch g {
	case GoalInstall:
		return "install"
	case GoalResume:
		return "resume"
	case GoalJoin:
		return "join"
	}
	return "unknown"
}

// Request is what the operator asked for.
type Request struct {
	Goal Goal
	// Install is the desired state: the wizard's answers for GoalInstall,
	// the node, storage and join sections for GoalJoin; nil for GoalResume
	// (the backend reloads the inputs saved with the checkpoint).
	Install *config.Install
	// PeerPassword is the join peer's root@pam password: used once for the
	// join, never stored, never logged.
	PeerPassword string
}

// NodeInfo describes the node the TUI runs against.
type NodeInfo struct {
	Hostname   string
	PVEVersion string
	Address    string
	// Target says how we reach it ("this machine", "root@192.168.1.10 over
	// SSH", "in-process lab").
	Target string
	// Installed is true when a finished TAPPaaS install exists.
	Installed bool
	// Checkpoint is set when an unfinished run can be resumed.
	Checkpoint *Checkpoint
	// Steps are the recorded states of the last plan's steps, in plan
	// order (for the status screen; may be empty).
	Steps []StepState
}

// StepState is one step's recorded checkpoint.
type StepState struct {
	ID, Title string
	// Status is "done", "skipped", "failed", "interrupted", "running" or
	// "" (never run).
	Status   string
	Finished time.Time
	// Detail is the recorded reason or error.
	Detail string
}

// Checkpoint describes an unfinished run.
type Checkpoint struct {
	Goal Goal
	// Step is the 1-based position of the next step to run, out of Total.
	Step, Total int
	StepTitle   string
	// By and At say who ran it last and when.
	By string
	At time.Time
	// Failed is true when the last run stopped on an error.
	Failed bool
}

// NIC is a network interface found on the node.
type NIC struct {
	Name, MAC string
	Link      bool
	SpeedMbps int
	// Internet is true when this NIC reaches the internet (default route).
	Internet bool
	Address  string
}

// Disk is a block device found on the node.
type Disk struct {
	Name      string // "sdb"
	Model     string
	SizeBytes uint64
	// InUse says what uses it ("" when free): "has partitions or data".
	InUse string
	// NotOffered says why the wizards do not offer it ("" offered): the
	// system disk, a disk of a pool the install does not own, a disk of
	// the install's own pool (kept as it is).
	NotOffered string
}

// Detected is what the backend found, with wizard defaults.
type Detected struct {
	// Install holds defaults for every wizard field (config.Defaults plus
	// what was detected: NIC roles, hostname, image checksums).
	Install config.Install
	NICs    []NIC
	Disks   []Disk
	// Images says where each image checksum in Install came from, in
	// the order firewall image, NixOS template image.
	Images []ImageSum
	// Pool is the install's storage pool when it already exists on the
	// node (its real layout and disks): kept as it is, nothing erased.
	Pool *config.Pool
	// OperatorAddr is the address the operator connects from over --host
	// ("" at the node's console): the wizard then asks for
	// node.admin_network, defaulting to it.
	OperatorAddr string
}

// ImageSum is an image checksum and where it was read.
type ImageSum struct {
	What   string // "firewall image", "NixOS template image"
	URL    string
	SHA256 string // "" when nothing is published (the wizard asks)
	// Source says where SHA256 was read ("GitHub release … asset
	// digest", "the answers"), or, when SHA256 is empty, why nothing
	// was found.
	Source string
}

// Erases lists the disks a request would erase: those of its pools that do
// not exist on the node yet (an existing pool is kept as it is).
func (d Detected) Erases(req Request) []string {
	if req.Install == nil {
		return nil
	}
	var out []string
	for _, p := range req.Install.Storage.Pools {
		if d.Pool != nil && d.Pool.Name == p.Name {
			continue
		}
		out = append(out, p.Disks...)
	}
	return out
}

// CheckStatus is the three-way result of a preflight check.
type CheckStatus int

// Check results.
const (
	CheckPass CheckStatus = iota
	CheckFail
	CheckUnknown // could not check
	CheckWarn
)

// Check is one preflight result.
type Check struct {
	Name   string
	Status CheckStatus
	Detail string
	// Fix says what to do when it failed.
	Fix string
}

// Summary is what a finished run built.
type Summary struct {
	Built       []string
	URLs        []Link
	Credentials []Credential
	Next        []string
	// Generated are secrets this run generated, shown to the operator once
	// (on the done screen) and never logged.
	Generated []Secret
	// Reach says which network reaches the URLs' addresses and how to get
	// there from elsewhere (one line each).
	Reach []string
}

// Secret is a generated credential shown once.
type Secret struct{ Name, Value, Where string }

// Link is a named URL, with the user name to log in as ("" when none).
type Link struct{ Name, URL, User string }

// Credential says where a credential is stored and the command that reads
// it on the node (never the secret itself).
type Credential struct{ Name, Where, Read string }
