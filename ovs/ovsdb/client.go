// Package ovsdb is flowgate's access to the Open_vSwitch database through
// libovsdb: it makes sure the integration bridge exists and is fit for
// flowgate (without ever recreating a bridge somebody else already runs
// traffic through), names the pipeline's tables, and keeps a monitored
// cache of the bridge's interfaces so that the agent learns about ports
// appearing and disappearing without polling ovs-vsctl.
//
// Everything read comes from libovsdb's monitor cache, so reads are cheap
// and never block on the server; every write is one OVSDB transaction and,
// where it matters for what follows (a new bridge before ovs-ofctl talks to
// it, table names before a dump shows them), waits for ovs-vswitchd to
// apply it, the way ovs-vsctl does: bump next_cfg in the same transaction
// and wait until cur_cfg catches up.
package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"
)

// Interface is one interface of a bridge as the agent needs it to bind
// endpoints: the OpenFlow port number the flows use, and the identities an
// orchestrator attached to the port (external_ids:iface-id, attached-mac).
type Interface struct {
	// Name is the interface (and, for ordinary ports, port) name.
	Name string
	// OFPort is the OpenFlow port number: -1 when ovs-vswitchd failed to
	// open the interface (see Error), 0 before it has assigned one.
	OFPort int
	// Type is the interface type: "" (system), "internal", "patch", ...
	Type string
	// ExternalIDs are the interface's external_ids: iface-id,
	// attached-mac, iface-status, vm-uuid, ...
	ExternalIDs map[string]string
	// MACInUse is the interface's current MAC address as ovs-vswitchd
	// reports it ("" until known).
	MACInUse string
	// LinkUp reports link_state "up".
	LinkUp bool
	// Bridge is the bridge whose port the interface belongs to.
	Bridge string
	// Error is ovs-vswitchd's reason for OFPort -1, if any.
	Error string
}

// Client is a connection to ovsdb-server with a monitor on the tables
// flowgate uses. It is safe for concurrent use.
type Client struct {
	cli client.Client
	log *logrus.Entry

	mu     sync.Mutex
	watch  chan struct{} // capacity 1: one pending signal at most
	closed bool
}

// Connect connects to ovsdb-server at addr ("unix:/run/openvswitch/db.sock",
// "tcp:127.0.0.1:6640") and starts monitoring the Open_vSwitch, Bridge,
// Port, Interface and Flow_Table columns flowgate uses. It returns once the
// cache holds the database's current contents. After a lost connection the
// client reconnects by itself (with backoff) and restarts its monitor;
// writes made while disconnected wait for the reconnection, bounded by
// their context.
//
// libovsdb's own logging, which is chatty, goes to logrus at debug level
// (errors at warning level).
func Connect(ctx context.Context, addr string) (*Client, error) {
	dbModel, err := clientModel()
	if err != nil {
		return nil, fmt.Errorf("ovsdb: client model: %w", err)
	}
	entry := logrus.WithField("ovsdb", addr)
	logger := logr.New(&logrusSink{entry: entry})
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0 // never give up: the agent is useless without OVSDB
	cli, err := client.NewOVSDBClient(dbModel,
		client.WithEndpoint(addr),
		client.WithLogger(&logger),
		client.WithReconnect(10*time.Second, bo),
	)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: new client for %s: %w", addr, err)
	}
	if err := cli.Connect(ctx); err != nil {
		return nil, fmt.Errorf("ovsdb: connect to %s: %w", addr, err)
	}
	c := &Client{cli: cli, log: entry, watch: make(chan struct{}, 1)}
	// Registered before the monitor starts: the initial dump leaves a
	// signal pending, so a reader that starts late still reads once.
	cli.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(table string, _ model.Model) { c.changed(table) },
		UpdateFunc: func(table string, _, _ model.Model) { c.changed(table) },
		DeleteFunc: func(table string, _ model.Model) { c.changed(table) },
	})
	var (
		ovs openvSwitch
		br  bridge
		pt  port
		ifc iface
		ft  flowTable
	)
	mon := cli.NewMonitor(
		client.WithTable(&ovs, &ovs.Bridges, &ovs.OtherConfig, &ovs.NextCfg, &ovs.CurCfg),
		client.WithTable(&br, &br.Name, &br.Ports, &br.Protocols, &br.FailMode, &br.DatapathType, &br.FlowTables, &br.ExternalIDs),
		client.WithTable(&pt, &pt.Name, &pt.Interfaces),
		client.WithTable(&ifc, &ifc.Name, &ifc.Type, &ifc.Ofport, &ifc.ExternalIDs, &ifc.MACInUse, &ifc.LinkState, &ifc.Error),
		client.WithTable(&ft, &ft.Name),
	)
	if _, err := cli.Monitor(ctx, mon); err != nil {
		cli.Close()
		return nil, fmt.Errorf("ovsdb: monitor %s: %w", addr, err)
	}
	return c, nil
}

// Close disconnects and closes the Watch channel.
func (c *Client) Close() {
	c.cli.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.watch)
	}
}

// Watch returns the channel that receives a value whenever Bridge, Port or
// Interface rows change (ports added or removed, ofport assigned, external
// ids edited, links going up or down, a reconnection refilling the
// cache). Signals are coalesced: the channel holds at most one pending
// value and the monitor never waits for a slow reader, so the reader must
// re-read Interfaces after each signal rather than count them. Every call
// returns the same channel, so `case <-c.Watch():` in a select loop is
// fine; it is meant for one reader (two would split the signals). It is
// closed by Close.
func (c *Client) Watch() <-chan struct{} { return c.watch }

// changed signals the watchers about a change in table.
func (c *Client) changed(table string) {
	switch table {
	case tableBridge, tablePort, tableInterface:
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.watch <- struct{}{}:
	default:
	}
}

// Interfaces returns the interfaces of bridge's ports, sorted by name,
// from the monitor cache (no round trip). The bridge's own internal
// interface (named like the bridge, OpenFlow port LOCAL = 65534) is
// included. An unknown bridge has no interfaces. The snapshot may lag the
// database by the monitor's latency; Watch says when to read again.
//
// libovsdb applies an update table by table, and after a reconnection it
// empties the cache before refilling it, so a reader can catch a Port
// whose Interface row is not there yet or no Bridge at all. Such a
// snapshot would look to the agent like endpoints leaving the bridge, so
// Interfaces reads again (every 10 ms, up to 100 ms) until every row the
// bridge refers to is present.
func (c *Client) Interfaces(bridgeName string) []Interface {
	out, complete := c.interfaces(bridgeName)
	for try := 0; !complete && try < 10; try++ {
		time.Sleep(10 * time.Millisecond)
		out, complete = c.interfaces(bridgeName)
	}
	return out
}

// interfaces takes one snapshot and says whether it is complete.
func (c *Client) interfaces(bridgeName string) ([]Interface, bool) {
	ctx := context.Background() // List only reads the cache
	br, ok := c.bridge(bridgeName)
	if !ok {
		return nil, false
	}
	var ports []port
	if err := c.cli.WhereCache(func(p *port) bool { return slices.Contains(br.Ports, p.UUID) }).List(ctx, &ports); err != nil {
		c.log.WithError(err).Warn("list ports from cache")
		return nil, false
	}
	want := map[string]bool{}
	for _, p := range ports {
		for _, u := range p.Interfaces {
			want[u] = true
		}
	}
	var ifaces []iface
	if err := c.cli.WhereCache(func(i *iface) bool { return want[i.UUID] }).List(ctx, &ifaces); err != nil {
		c.log.WithError(err).Warn("list interfaces from cache")
		return nil, false
	}
	out := make([]Interface, 0, len(ifaces))
	for _, i := range ifaces {
		it := Interface{
			Name:        i.Name,
			Type:        i.Type,
			ExternalIDs: i.ExternalIDs,
			Bridge:      br.Name,
			MACInUse:    deref(i.MACInUse),
			LinkUp:      deref(i.LinkState) == "up",
			Error:       deref(i.Error),
		}
		if i.Ofport != nil {
			it.OFPort = *i.Ofport
		}
		if it.ExternalIDs == nil {
			it.ExternalIDs = map[string]string{}
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Interface) int { return strings.Compare(a.Name, b.Name) })
	return out, len(ports) == len(br.Ports) && len(ifaces) == len(want)
}

// HasBridge reports whether a bridge called name exists. It only reads the
// client's cache, so read-only tools (flowgate status) can check for a
// bridge without EnsureBridge creating or adjusting it.
func (c *Client) HasBridge(name string) bool {
	_, ok := c.bridge(name)
	return ok
}

// bridge returns the cached Bridge row called name.
func (c *Client) bridge(name string) (bridge, bool) {
	var brs []bridge
	if err := c.cli.WhereCache(func(b *bridge) bool { return b.Name == name }).List(context.Background(), &brs); err != nil || len(brs) == 0 {
		return bridge{}, false
	}
	return brs[0], true
}

// root returns the cached Open_vSwitch row.
func (c *Client) root() (openvSwitch, error) {
	var rows []openvSwitch
	if err := c.cli.List(context.Background(), &rows); err != nil {
		return openvSwitch{}, fmt.Errorf("read Open_vSwitch row: %w", err)
	}
	if len(rows) != 1 {
		return openvSwitch{}, fmt.Errorf("Open_vSwitch table has %d rows, want 1 (database not initialised: ovs-vsctl init)", len(rows))
	}
	return rows[0], nil
}

// transact runs ops as one transaction and checks every operation's
// result, so a constraint violation is an error rather than a silent no-op.
func (c *Client) transact(ctx context.Context, ops []libovsdb.Operation) ([]libovsdb.OperationResult, error) {
	res, err := c.cli.Transact(ctx, ops...)
	if err != nil {
		return nil, err
	}
	if _, err := libovsdb.CheckOperationResults(res, ops); err != nil {
		var details []string
		for _, r := range res {
			if r.Error != "" {
				details = append(details, r.Error+": "+r.Details)
			}
		}
		return nil, fmt.Errorf("%w (%s)", err, strings.Join(details, "; "))
	}
	return res, nil
}

// transactAndWait runs ops plus an increment of next_cfg in one
// transaction, then waits until ovs-vswitchd reports (cur_cfg) that it
// has applied that configuration: what ovs-vsctl does unless --no-wait.
func (c *Client) transactAndWait(ctx context.Context, ops []libovsdb.Operation) error {
	root, err := c.root()
	if err != nil {
		return err
	}
	bump, err := c.cli.Where(&root).Mutate(&root, model.Mutation{Field: &root.NextCfg, Mutator: libovsdb.MutateOperationAdd, Value: 1})
	if err != nil {
		return fmt.Errorf("build next_cfg increment: %w", err)
	}
	ops = append(ops, bump...)
	ops = append(ops, libovsdb.Operation{
		Op:      libovsdb.OperationSelect,
		Table:   tableOpenvSwitch,
		Where:   []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: root.UUID})},
		Columns: []string{"next_cfg"},
	})
	res, err := c.transact(ctx, ops)
	if err != nil {
		return err
	}
	sel := res[len(res)-1]
	if len(sel.Rows) != 1 {
		return errors.New("reading next_cfg back: no row")
	}
	var next int
	switch v := sel.Rows[0]["next_cfg"].(type) {
	case float64:
		next = int(v)
	case int:
		next = v
	default:
		return fmt.Errorf("reading next_cfg back: unexpected %T", v)
	}
	return c.waitCurCfg(ctx, next)
}

// waitCurCfg waits until ovs-vswitchd's cur_cfg reaches next. It polls
// the cache, which the monitor keeps current, every 10 ms.
func (c *Client) waitCurCfg(ctx context.Context, next int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		root, err := c.root()
		if err == nil && root.CurCfg >= next {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for ovs-vswitchd to apply configuration %d (is it running?): %w", next, ctx.Err())
		case <-t.C:
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
