package openflow

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/translator/compiler"
)

// Protocols are the OpenFlow versions ovs-ofctl may negotiate with the
// bridge. Bundles, which make every change atomic, exist from 1.4 on, so
// nothing older is offered: a bridge without 1.4/1.5 in its protocols
// fails loudly at the first call instead of silently losing atomicity.
var Protocols = []string{"OpenFlow14", "OpenFlow15"}

// ofctl runs ovs-ofctl for one bridge.
//
// It does not go through go-openvswitch's ovs.Client, although that
// library was the plan and was measured here (OVS 3.1, 2 cores): its
// FlowTransaction writes only "add" and the non-strict "delete" (which
// also removes every more specific flow, so it cannot retract one flow of
// a policy), it builds the whole bundle in memory with typed marshalling
// (~2.3 µs per flow, before ovs-ofctl even starts) so that Sync reached
// only 0.72× the raw `ovs-ofctl --bundle add-flows` rate at 10k flows,
// its dump-flows parser rejects goto_table and ct(..., exec(...)) which
// every flowgate flow uses, and its dump-aggregate result drops the flow
// count. What remains is what it would have done too — run ovs-ofctl with
// the right flags and a flow file on stdin — streamed, with strict deletes.
type ofctl struct {
	bridge string
	env    []string
	// own restricts every read and every wholesale delete to the flows
	// whose cookie matches it ("cookie=V/M"); "" means the whole bridge.
	own string
	// lastBundle and lastPurge are the durations of the last bundle's
	// ovs-ofctl run and of the datapath purge after it.
	lastBundle, lastPurge time.Duration
	// lastNative says whether the last bundle went over native.
	lastNative bool
	// native, when set, sends deltas over a persistent OpenFlow
	// connection (native.go); ovs-ofctl then sends only what it cannot
	// encode, the wholesale replacements and the reads.
	native *native
}

// run executes an OVS tool with the programmer's environment and returns
// its stdout only. Stderr is never part of the answer: the OVS tools write
// warnings there while succeeding (ovs-ofctl's "Unreasonably long ...ms
// poll interval" on a loaded host), and an answer parsed from stdout plus
// such a warning would be wrong (diff-flows would report a difference
// that is not there). Stderr is where they explain failures, so a failure's
// error carries it.
func (o *ofctl) run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = o.env
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ofctl runs ovs-ofctl with the protocol flags every call uses.
func (o *ofctl) ofctl(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	return o.run(ctx, stdin, "ovs-ofctl", append([]string{"--protocols=" + strings.Join(Protocols, ",")}, args...)...)
}

// replaceAll installs exactly flows, in one bundle: every table emptied
// ("delete" with no match, or only our cookies' flows when the bridge is
// shared), then every flow added. See Programmer.Sync for why that is safe
// for traffic.
func (o *ofctl) replaceAll(ctx context.Context, flows []compiler.Flow) error {
	line := func(n int) string {
		if n >= 2 && n-2 < len(flows) {
			return flows[n-2].String()
		}
		return ""
	}
	return o.bundle(ctx, line, func(w *bufio.Writer) {
		w.WriteString(strings.TrimSpace("delete "+o.own) + "\n")
		var buf []byte
		for i := range flows {
			buf = appendLine(buf[:0], "add ", &flows[i])
			w.Write(buf)
		}
	})
}

// applyDelta applies one delta in one bundle: strict deletes first, then
// adds. A modified flow is an "add" of the new version: OpenFlow's add
// replaces the flow with the same table, priority and match in place,
// actions and cookie together. (modify_strict would keep the old cookie:
// in OpenFlow 1.2+ a modify cannot change it, and bundles need 1.4.)
func (o *ofctl) applyDelta(ctx context.Context, d compiler.Delta) error {
	if o.native != nil {
		start := time.Now()
		err := o.native.applyDelta(ctx, d)
		if !errors.Is(err, errNotNative) {
			committed := time.Now()
			o.lastBundle, o.lastPurge, o.lastNative = committed.Sub(start), 0, true
			if err != nil {
				return err
			}
			err = o.purgeDatapathFlows(ctx)
			o.lastPurge = time.Since(committed)
			return err
		}
		logrus.WithField("bridge", o.bridge).WithError(err).Debug("bundle sent with ovs-ofctl")
	}
	line := func(n int) string {
		n--
		for _, fs := range [][]compiler.Flow{d.Delete, d.Add, d.Modify} {
			if n >= 0 && n < len(fs) {
				return fs[n].String()
			}
			n -= len(fs)
		}
		return ""
	}
	return o.bundle(ctx, line, func(w *bufio.Writer) {
		var buf []byte
		for i := range d.Delete {
			f := &d.Delete[i]
			buf = append(buf[:0], "delete_strict table="...)
			buf = strconv.AppendUint(buf, uint64(f.Table), 10)
			buf = append(buf, ",priority="...)
			buf = strconv.AppendUint(buf, uint64(f.Priority), 10)
			if f.Match != "" {
				buf = append(buf, ',')
				buf = append(buf, f.Match...)
			}
			buf = append(buf, '\n')
			w.Write(buf)
		}
		for _, fs := range [][]compiler.Flow{d.Add, d.Modify} {
			for i := range fs {
				buf = appendLine(buf[:0], "add ", &fs[i])
				w.Write(buf)
			}
		}
	})
}

// lineRe finds the input line ovs-ofctl complains about ("-:1234: ...").
var lineRe = regexp.MustCompile(`-:(\d+):`)

// bundle runs one `ovs-ofctl --bundle add-flows BRIDGE -` whose input
// write produces. The input is streamed while ovs-ofctl starts and parses,
// so formatting costs no wall time on a machine with a spare core, and a
// 100k-flow bundle is never held in memory twice. When ovs-ofctl rejects
// an input line, line(n) names the flow for the error.
func (o *ofctl) bundle(ctx context.Context, line func(n int) string, write func(w *bufio.Writer)) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 256<<10)
		write(w)
		pw.CloseWithError(w.Flush())
	}()
	start := time.Now()
	_, err := o.ofctl(ctx, pr, "--bundle", "add-flows", o.bridge, "-")
	pr.Close() // unblocks the writer if ovs-ofctl died early
	committed := time.Now()
	o.lastBundle, o.lastPurge, o.lastNative = committed.Sub(start), 0, false
	if err == nil {
		err = o.purgeDatapathFlows(ctx)
		o.lastPurge = time.Since(committed)
	}
	if err != nil {
		if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			if f := line(n); f != "" {
				return fmt.Errorf("%w (input line %d: %s)", err, n, f)
			}
		}
	}
	return err
}

// appendLine appends prefix and the flow in Flow.String's format (numeric
// table, cookie in hex) and a newline, without fmt: at 100k flows the
// formatting would otherwise be a visible part of a Sync.
func appendLine(b []byte, prefix string, f *compiler.Flow) []byte {
	b = append(b, prefix...)
	b = append(b, "cookie=0x"...)
	b = strconv.AppendUint(b, uint64(f.Cookie), 16)
	b = append(b, ", table="...)
	b = strconv.AppendUint(b, uint64(f.Table), 10)
	b = append(b, ", priority="...)
	b = strconv.AppendUint(b, uint64(f.Priority), 10)
	if f.Match != "" {
		b = append(b, ',')
		b = append(b, f.Match...)
	}
	b = append(b, " actions="...)
	b = append(b, f.Actions...)
	return append(b, '\n')
}

var flowCountRe = regexp.MustCompile(`flow_count=(\d+)`)

// flowCount is the number of flows on the bridge (all tables; only ours
// when shared), from one dump-aggregate: ovs-vswitchd sums its tables
// without sending the flows (a cookie/mask match is looked up in its
// cookie index).
func (o *ofctl) flowCount(ctx context.Context) (int, error) {
	args := []string{"dump-aggregate", o.bridge}
	if o.own != "" {
		args = append(args, o.own)
	}
	out, err := o.ofctl(ctx, nil, args...)
	if err != nil {
		return 0, err
	}
	m := flowCountRe.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no flow_count in dump-aggregate output %q", out)
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return 0, fmt.Errorf("flow_count in %q: %w", out, err)
	}
	return n, nil
}

// dumpFlows returns the flow lines dump-flows prints for match, without
// statistics.
func (o *ofctl) dumpFlows(ctx context.Context, match string) ([]string, error) {
	out, err := o.ofctl(ctx, nil, "--no-stats", "dump-flows", o.bridge, match)
	if err != nil {
		return nil, err
	}
	lines := FlowLines(string(out))
	return lines, nil
}
