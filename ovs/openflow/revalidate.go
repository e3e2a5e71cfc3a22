package openflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowgate/flowgate/ovs/unixctl"
)

// revalidator makes a bundle's effect on ovs-vswitchd's cached datapath
// flows exact by the time the bundle is reported done, without evicting
// any datapath flow.
//
// Root cause of the stale verdicts (OVS 3.1, userspace datapath,
// reproduced by TestChangeLeavesNoStaleVerdict): a bundle commit (like any
// flow table change) bumps the tables version and wakes the revalidator
// threads, which re-translate every cached datapath flow and fix or delete
// those whose actions or mask changed. That happens asynchronously: the
// commit's reply (and its barrier) is sent before they run, so a packet
// arriving right after the commit may still be handled by a datapath flow
// of the old tables — both for connections the change denies (a SYN
// passes, and ct(commit) commits it) and for those it allows. Measured:
// with a connection opened right after each of 15 commits, 1–3 denied
// connections passed and 4–6 allowed ones failed; 50 ms later every
// verdict was right, and stayed so. Nothing stays stale beyond that first
// revalidation round.
//
// `revalidator/purge` after the commit (what flowgate did before) closes
// that window by deleting every datapath flow of the host — every bridge,
// every VM — so that each flow's next packet takes an upcall. Waiting for
// the round instead costs nothing but the wait, but `revalidator/wait`
// alone is not exact: it answers when the round that is running, or the
// next one, ends; the round running when the wait arrives may have started
// before the commit (then it answers early), and when the commit's round
// already ended it waits for the next periodic one (up to 500 ms). So
// after the commit: revalidator/pause (answers once the revalidators have
// finished the round in progress and are parked), revalidator/wait sent,
// revalidator/resume, and the wait's answer. Resumed revalidators start a
// round at once — one that began after the commit — and the wait answers
// when it ends. The wait is sent on the older of two control connections:
// ovs-vswitchd serves its control connections in the order they were
// opened, so the wait is registered before the resume is served.
// Measured: 0.4 ms instead of the purge's 3.8 ms, no stale verdict, and
// every other datapath flow kept.
//
// The revalidators are paused only between two control calls (well under
// a millisecond). If flowgate dies in between, they stay paused until
// someone runs `ovs-appctl revalidator/resume`; flowgate never sends a
// resume it has not paused for, because ovs-vswitchd (3.1) answers a
// resume without a pause by blocking its main thread for good. An
// ovs-vswitchd that refuses revalidator/pause gets the purge.
type revalidator struct {
	runDir string
	// wait is opened before ctl, and both are reopened together, in that
	// order, after any failure (see the type comment).
	wait, ctl *unixctl.Client
}

// revalidatorTimeout bounds each control call; a revalidation round of a
// large host takes well under it.
const revalidatorTimeout = 30 * time.Second

func newRevalidator(env []string) *revalidator {
	return &revalidator{runDir: unixctl.RunDir(env)}
}

// connect opens both control connections, wait first.
func (r *revalidator) connect() error {
	if r.wait != nil {
		return nil
	}
	wait, err := unixctl.Dial(r.runDir, "ovs-vswitchd", revalidatorTimeout)
	if err != nil {
		return err
	}
	ctl, err := unixctl.Dial(r.runDir, "ovs-vswitchd", revalidatorTimeout)
	if err != nil {
		wait.Close()
		return err
	}
	r.wait, r.ctl = wait, ctl
	return nil
}

// reset drops both connections so the next use reopens them in order.
func (r *revalidator) reset() {
	if r.wait != nil {
		r.wait.Close()
		r.ctl.Close()
	}
	r.wait, r.ctl = nil, nil
}

// around runs commit, which commits one bundle, and returns once the
// revalidators have finished a round that began after the commit. It
// returns commit's error, or why the datapath could not be brought up to
// date (then the caller must treat the change as failed: the bridge may
// serve old verdicts).
func (r *revalidator) around(ctx context.Context, purge func(context.Context) error, commit func() error) error {
	if err := commit(); err != nil {
		return err
	}
	if err := r.pause(); err != nil {
		var refused *unixctl.CommandError
		if errors.As(err, &refused) {
			// An ovs-vswitchd without revalidator/pause: purge instead.
			return purge(ctx)
		}
		// Whether the pause happened is unknown, and a resume without a
		// pause would block ovs-vswitchd's main thread for good; purge
		// so that at least this change is exact, and say so.
		r.reset()
		return errors.Join(fmt.Errorf("pause the revalidators: %w", err), purge(ctx))
	}
	read, werr := r.wait.Start("revalidator/wait")
	if err := r.resume(); err != nil {
		if werr == nil {
			go func(wait *unixctl.Client) { read(); wait.Close() }(r.wait)
		}
		r.ctl.Close()
		r.wait, r.ctl = nil, nil
		return err
	}
	if werr != nil {
		r.reset()
		return fmt.Errorf("wait for the revalidators: %w", werr)
	}
	if _, err := read(); err != nil {
		r.reset()
		return fmt.Errorf("wait for the revalidators: %w", err)
	}
	return nil
}

// pause sends revalidator/pause. Connections that ovs-vswitchd closed (it
// restarted since the last bundle) are reopened once: the pause could not
// have been served on a connection that failed to send it.
func (r *revalidator) pause() error {
	for attempt := 0; ; attempt++ {
		if err := r.connect(); err != nil {
			return fmt.Errorf("revalidation after the bundle: %w", err)
		}
		_, err := r.ctl.Call("revalidator/pause")
		if err == nil || attempt == 1 || !strings.Contains(err.Error(), ": send: ") {
			return err
		}
		r.reset()
	}
}

// resume sends revalidator/resume once. It is never retried: a resume
// that ovs-vswitchd served but whose reply was lost, sent again, would
// block ovs-vswitchd's main thread waiting for revalidators that are not
// paused.
func (r *revalidator) resume() error {
	if _, err := r.ctl.Call("revalidator/resume"); err != nil {
		return fmt.Errorf("resume the revalidators (they may be left paused: `ovs-appctl revalidator/resume` resumes them): %w", err)
	}
	return nil
}

// purgeDatapathFlows drops every cached datapath flow of the host: the
// fallback for an ovs-vswitchd that cannot pause its revalidators.
func (o *ofctl) purgeDatapathFlows(ctx context.Context) error {
	if _, err := o.run(ctx, nil, "ovs-appctl", "revalidator/purge"); err != nil {
		return fmt.Errorf("purge datapath flows after the bundle: %w", err)
	}
	return nil
}
