package audit

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/flowgate/flowgate/ovs/packetin"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// Userdata of the controller actions the compiler writes: a flags byte
// then the rule id, big-endian (docs/pipeline.md).
const (
	userdataLen = 5
	// flagIngress marks the ingress rule list.
	flagIngress = 1
	// flagDenied marks a logged denial (a Deny rule, or a tier's or the
	// endpoint's default deny) rather than a Log rule.
	flagDenied = 2
	// defaultCodes and above are the defaults' codes (end of a tier, the
	// endpoint's default), far above any rule id.
	defaultCodes = 0xff000000
)

// Config tunes the logger.
type Config struct {
	// Bridge names the bridge in every line.
	Bridge string
	// Rate and Burst bound the lines written per second (a token
	// bucket), the agent's limit behind the switch's meter.
	Rate  float64
	Burst int
	// Dedupe is how long a connection's first packet is remembered: a
	// repeat (a retransmitted SYN, a denied client retrying on the same
	// port) within it is the same connection and writes no line.
	Dedupe time.Duration
	// Queue is how many packets may wait for the writer; more are
	// dropped and counted, so the connection's reader never blocks.
	Queue int
	// ReportInterval is how often drops are reported when they grew.
	ReportInterval time.Duration
}

// Counts are the logger's counters since it started.
type Counts struct {
	// Lines were written.
	Lines uint64
	// RateDropped were over the agent's rate limit; QueueDropped found
	// the writer's queue full; SwitchDropped were dropped by the switch's
	// controller meter (as last read).
	RateDropped, QueueDropped, SwitchDropped uint64
	// Duplicates were repeats of a connection already logged.
	Duplicates uint64
	// Unresolved named no rule of the current world (a packet sent just
	// before a policy change) or were no IP packet; they are logged with
	// what is known.
	Unresolved uint64
	// WriteErrors are lines the destination refused.
	WriteErrors uint64
}

// Dropped is every packet that was not logged for lack of capacity.
func (c Counts) Dropped() uint64 { return c.RateDropped + c.QueueDropped + c.SwitchDropped }

// Logger writes the audit log.
type Logger struct {
	cfg     Config
	out     io.Writer
	limiter *rate.Limiter
	queue   chan received
	view    atomic.Pointer[View]

	lines, rateDropped, queueDropped, switchDropped, duplicates, unresolved, writeErrors atomic.Uint64

	// seen is the writer's memory of first packets (Run's goroutine only).
	seen map[connKey]time.Time
}

// received is a packet-in and when it arrived.
type received struct {
	pi packetin.PacketIn
	at time.Time
}

// connKey identifies a logged connection: the rule that logged it and the
// packet's five-tuple (ICMP type/code in the ports).
type connKey struct {
	flags            byte
	id               uint32
	src, dst         [16]byte
	proto            uint8
	srcPort, dstPort uint16
}

// New returns a logger writing to out; Run must run for lines to appear.
func New(cfg Config, out io.Writer) *Logger {
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = time.Minute
	}
	return &Logger{
		cfg:     cfg,
		out:     out,
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst),
		queue:   make(chan received, cfg.Queue),
		seen:    map[connKey]time.Time{},
	}
}

// SetView makes v the world packets are named in from now on.
func (l *Logger) SetView(v *View) { l.view.Store(v) }

// Handle takes one packet-in without ever blocking: over the rate or with
// the queue full it is counted as dropped.
func (l *Logger) Handle(pi packetin.PacketIn) {
	if !l.limiter.Allow() {
		l.rateDropped.Add(1)
		return
	}
	select {
	case l.queue <- received{pi: pi, at: time.Now()}:
	default:
		l.queueDropped.Add(1)
	}
}

// SetSwitchDropped records the switch meter's drops so far (the caller
// accumulates across meter resets).
func (l *Logger) SetSwitchDropped(n uint64) { l.switchDropped.Store(n) }

// Counts returns the counters.
func (l *Logger) Counts() Counts {
	return Counts{Lines: l.lines.Load(), RateDropped: l.rateDropped.Load(), QueueDropped: l.queueDropped.Load(),
		SwitchDropped: l.switchDropped.Load(), Duplicates: l.duplicates.Load(), Unresolved: l.unresolved.Load(),
		WriteErrors: l.writeErrors.Load()}
}

// Run writes lines until ctx ends, and reports drops every
// ReportInterval in which they grew.
func (l *Logger) Run(ctx context.Context) {
	report := time.NewTicker(l.cfg.ReportInterval)
	defer report.Stop()
	var last Counts
	for {
		select {
		case <-ctx.Done():
			l.report(&last)
			return
		case r := <-l.queue:
			l.write(r)
		case <-report.C:
			l.report(&last)
			l.forget(time.Now())
		}
	}
}

// report logs the drop counters when they grew since the last report.
func (l *Logger) report(last *Counts) {
	c := l.Counts()
	if c.Dropped() == last.Dropped() && c.WriteErrors == last.WriteErrors {
		*last = c
		return
	}
	logrus.WithFields(logrus.Fields{
		"bridge": l.cfg.Bridge, "lines": c.Lines, "dropped": c.Dropped() - last.Dropped(),
		"switchDropped": c.SwitchDropped, "rateDropped": c.RateDropped, "queueDropped": c.QueueDropped,
		"writeErrors": c.WriteErrors, "droppedTotal": c.Dropped(),
	}).Warn("audit log: connections not logged (rate limit)")
	*last = c
}

// forget drops remembered first packets older than the dedupe window.
func (l *Logger) forget(now time.Time) {
	for k, t := range l.seen {
		if now.Sub(t) > l.cfg.Dedupe {
			delete(l.seen, k)
		}
	}
}

// write turns one packet into a line, unless it repeats one.
func (l *Logger) write(r received) {
	rec, key, ok := l.record(r)
	if !ok {
		l.unresolved.Add(1)
	}
	if l.cfg.Dedupe > 0 {
		if t, dup := l.seen[key]; dup && r.at.Sub(t) <= l.cfg.Dedupe {
			l.duplicates.Add(1)
			return
		}
		l.seen[key] = r.at
		if len(l.seen) > 8*l.cfg.Queue {
			l.forget(r.at)
		}
	}
	b, err := json.Marshal(rec)
	if err == nil {
		_, err = l.out.Write(append(b, '\n'))
	}
	if err != nil {
		if l.writeErrors.Add(1) == 1 {
			logrus.WithError(err).Error("audit log: cannot write")
		}
		return
	}
	l.lines.Add(1)
}

// record decodes a packet-in; ok is false when it names no rule of the
// current view (the record then carries what the packet says).
func (l *Logger) record(r received) (Record, connKey, bool) {
	h := packetin.DecodeFrame(r.pi.Frame)
	rec := Record{Time: r.at.UTC(), Bridge: l.cfg.Bridge, Protocol: policy.Protocol(h.Protocol).String()}
	key := connKey{proto: h.Protocol, srcPort: h.SrcPort, dstPort: h.DstPort, src: h.Src.As16(), dst: h.Dst.As16()}
	if h.Src.IsValid() {
		rec.Src, rec.Dst = h.Src.String(), h.Dst.String()
	}
	switch {
	case policy.Protocol(h.Protocol).HasPorts():
		rec.SrcPort, rec.DstPort = &h.SrcPort, &h.DstPort
	case h.HasICMP:
		rec.ICMPType, rec.ICMPCode = &h.ICMPType, &h.ICMPCode
		key.srcPort, key.dstPort = uint16(h.ICMPType), uint16(h.ICMPCode)
	}
	ud := r.pi.Userdata
	if len(ud) != userdataLen || !h.Src.IsValid() {
		return rec, key, false
	}
	key.flags, key.id = ud[0], binary.BigEndian.Uint32(ud[1:])
	dir := policy.Egress
	if ud[0]&flagIngress != 0 {
		dir = policy.Ingress
	}
	rec.Direction = dir.String()
	rec.RuleAction = policy.Log.String()
	if ud[0]&flagDenied != 0 {
		rec.RuleAction = policy.Deny.String()
	}
	v := l.view.Load()
	if v == nil {
		return rec, key, false
	}
	ev := v.evaluator()
	src, dst := ev.EndpointAt(h.Src), ev.EndpointAt(h.Dst)
	if src != nil {
		rec.SrcEndpoint = src.ID()
	}
	if dst != nil {
		rec.DstEndpoint = dst.ID()
	}
	pkt := evaluator.Packet{Src: h.Src, Dst: h.Dst, Protocol: policy.Protocol(h.Protocol), SrcPort: h.SrcPort, DstPort: h.DstPort,
		ICMPType: h.ICMPType, ICMPCode: h.ICMPCode, SrcMAC: h.SrcMAC, DstMAC: h.DstMAC}
	var d *evaluator.Decision
	if dir == policy.Egress && src != nil {
		dd := ev.Decide(src, dir, pkt)
		d = &dd
	} else if dir == policy.Ingress && dst != nil {
		dd := ev.Decide(dst, dir, pkt)
		d = &dd
	}
	if d != nil {
		rec.Action = policy.Deny.String()
		if d.Allowed {
			rec.Action = policy.Allow.String()
		}
		rec.DecidedBy = d.Reason
		if d.Rule != nil {
			rec.DecidedBy = d.Rule.String()
		}
	}
	if ud[0]&flagDenied != 0 && key.id >= defaultCodes {
		// A tier's or the endpoint's default denied: there is no rule to
		// name, DecidedBy says which default; a tier's code names the tier.
		if n, ok := compiler.TierNumberOfCode(key.id); ok {
			rec.Tier = v.tiers[n]
		}
		return rec, key, d != nil
	}
	p, rule, ok := v.rule(dir, key.id)
	if !ok {
		return rec, key, false
	}
	rec.Tier = p.Tier
	rec.Policy = PolicyRef{Kind: p.Kind.String(), Namespace: p.Namespace, Name: p.Name}
	rec.Rule, rec.RuleName = rule.Index, rule.Name
	return rec, key, true
}

// String summarises the counts for a log line.
func (c Counts) String() string {
	return fmt.Sprintf("lines %d, dropped %d (switch %d, rate %d, queue %d), duplicates %d", c.Lines, c.Dropped(),
		c.SwitchDropped, c.RateDropped, c.QueueDropped, c.Duplicates)
}
