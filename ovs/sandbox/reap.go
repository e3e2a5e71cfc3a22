package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// registryDir records live instances so that a later Start can reap the
// daemons and namespaces of a process that died without calling Stop.
const registryDir = "/run/fgsandbox"

// record is one registry entry: which process owns an instance and where its
// files are. OwnerStart guards against the owner's pid being reused.
type record struct {
	ID         string `json:"id"`
	Dir        string `json:"dir"`
	Owner      int    `json:"owner"`
	OwnerStart string `json:"owner_start"`
}

// withRegistryLock serialises registry and /run/netns setup across the test
// processes that `go test ./...` runs in parallel.
func withRegistryLock(fn func() error) error {
	if err := os.MkdirAll(registryDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", registryDir, err)
	}
	f, err := os.OpenFile(filepath.Join(registryDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open registry lock: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

// procStart returns the start time (in clock ticks) of pid, or "" if the
// process does not exist.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	// Fields after ")" start at field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// register records a new instance owned by this process, after reaping
// instances whose owners are gone.
func register(id, dir string) error {
	return withRegistryLock(func() error {
		reapStale()
		if err := ensureNetnsDir(); err != nil {
			return err
		}
		r := record{ID: id, Dir: dir, Owner: os.Getpid(), OwnerStart: procStart(os.Getpid())}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(registryDir, id), b, 0o644); err != nil {
			return fmt.Errorf("write registry entry: %w", err)
		}
		return nil
	})
}

// unregister forgets an instance after it was stopped.
func unregister(id string) error {
	err := os.Remove(filepath.Join(registryDir, id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove registry entry: %w", err)
	}
	return nil
}

// reapStale stops every registered instance whose owner process no longer
// exists. Errors are ignored: reaping is best effort and must never make a
// healthy Start fail.
func reapStale() {
	ents, err := os.ReadDir(registryDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(registryDir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) != nil || r.ID == "" {
			_ = os.Remove(p)
			continue
		}
		if r.Owner > 0 && procStart(r.Owner) == r.OwnerStart && r.OwnerStart != "" {
			continue // owner alive
		}
		for _, pid := range daemonsUsing(r.Dir) {
			_ = killPid(pid, 3*time.Second)
		}
		for _, ns := range listNS(wlNSPrefix(r.ID)) {
			_ = deleteNS(ns)
		}
		_ = deleteNS(ovsNSName(r.ID))
		_ = os.Remove(p)
	}
}

// daemonsUsing finds ovsdb-server/ovs-vswitchd processes whose command line
// names a file under dir. It scans /proc rather than trusting pidfiles
// because the dir may already be gone when its owner crashed.
func daemonsUsing(dir string) []int {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		c := strings.TrimSpace(string(comm))
		if c != "ovs-vswitchd" && c != "ovsdb-server" {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmd, []byte(dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killPid sends SIGTERM, waits up to grace for the process to go, then
// SIGKILLs it and waits again.
func killPid(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	if waitGone(pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("process %d survived SIGKILL", pid)
	}
	return nil
}

// waitGone polls until pid no longer exists (or is a zombie, which for a
// detached daemon reparented to init is as good as gone).
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
