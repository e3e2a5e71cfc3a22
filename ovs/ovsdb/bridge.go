package ovsdb

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"
)

// Protocols are the OpenFlow versions flowgate needs on its bridge:
// bundles (atomic flow replacement) need 1.4 or later; 1.0 and 1.3 stay
// allowed so that operators' tools keep working.
var Protocols = []string{"OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

// FailModeSecure is the fail_mode flowgate creates bridges with: the
// bridge forwards nothing that no flow allows, also before the agent has
// installed its flows and after ovs-vswitchd restarts. ("standalone" makes
// ovs-vswitchd add a NORMAL flow, which would bypass policy.)
const FailModeSecure = "secure"

// EnsureBridge makes sure bridge name exists and speaks the OpenFlow
// versions flowgate needs.
//
// A missing bridge is created, like `ovs-vsctl add-br`, with its internal
// port, fail_mode=secure, protocols = Protocols and datapathType ("" is
// the kernel datapath, "netdev" the userspace one); EnsureBridge returns
// once ovs-vswitchd has created it, so that ovs-ofctl can talk to it (it
// waits for ovs-vswitchd, bounded by ctx).
//
// An existing bridge is adopted as it is: its ports, interfaces and flows
// are never touched, so adopting a bridge that carries traffic does not
// interrupt it. Only missing OpenFlow versions are added to its protocols
// (which ovs-vswitchd applies without touching flows or ports; an empty
// protocols column already means every version and stays empty). A
// fail_mode other than secure is logged as a warning and left alone,
// because changing fail_mode makes ovs-vswitchd flush every flow of the
// bridge (measured on OVS 3.1), which would cut traffic until the agent
// installs its flows; the operator should set it. A different
// datapath_type is also only logged: changing it would recreate the
// datapath and every port on it.
func (c *Client) EnsureBridge(ctx context.Context, name, datapathType string) error {
	log := c.log.WithField("bridge", name)
	if br, ok := c.bridge(name); ok {
		return c.adoptBridge(ctx, br, datapathType, log)
	}
	root, err := c.root()
	if err != nil {
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	fail := FailModeSecure
	ifc := &iface{UUID: "newiface", Name: name, Type: "internal"}
	pt := &port{UUID: "newport", Name: name, Interfaces: []string{ifc.UUID}}
	br := &bridge{
		UUID:         "newbridge",
		Name:         name,
		Ports:        []string{pt.UUID},
		Protocols:    slices.Clone(Protocols),
		FailMode:     &fail,
		DatapathType: datapathType,
	}
	ops, err := c.cli.Create(ifc, pt, br)
	if err != nil {
		return fmt.Errorf("create bridge %s: build insert: %w", name, err)
	}
	link, err := c.cli.Where(&root).Mutate(&root, model.Mutation{Field: &root.Bridges, Mutator: libovsdb.MutateOperationInsert, Value: []string{br.UUID}})
	if err != nil {
		return fmt.Errorf("create bridge %s: build link: %w", name, err)
	}
	if err := c.transactAndWait(ctx, append(ops, link...)); err != nil {
		// Somebody may have created it at the same time (the name is a
		// unique index): adopt theirs.
		if _, ok := c.bridge(name); ok {
			log.WithError(err).Info("bridge created concurrently; adopting it")
			return c.EnsureBridge(ctx, name, datapathType)
		}
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	log.WithFields(logrus.Fields{"datapath_type": datapathType, "fail_mode": fail}).Info("bridge created")
	return nil
}

// adoptBridge is EnsureBridge for a bridge that exists.
func (c *Client) adoptBridge(ctx context.Context, br bridge, datapathType string, log *logrus.Entry) error {
	if fm := deref(br.FailMode); fm != FailModeSecure {
		log.WithField("fail_mode", fm).Warn("existing bridge is not fail_mode=secure; leaving it (changing it flushes all flows). " +
			"Without secure, ovs-vswitchd may forward with NORMAL when flowgate's flows are missing; set it with: ovs-vsctl set bridge " + br.Name + " fail_mode=secure")
	}
	if normDatapath(br.DatapathType) != normDatapath(datapathType) {
		log.WithFields(logrus.Fields{"datapath_type": br.DatapathType, "requested": datapathType}).
			Warn("existing bridge has another datapath_type; leaving it (changing it recreates every port)")
	}
	// An empty protocols column enables every version ovs-vswitchd knows
	// (1.0–1.5 in OVS 3.1): adding ours would narrow it.
	var missing []string
	for _, p := range Protocols {
		if len(br.Protocols) > 0 && !slices.Contains(br.Protocols, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	ops, err := c.cli.Where(&br).Mutate(&br, model.Mutation{Field: &br.Protocols, Mutator: libovsdb.MutateOperationInsert, Value: missing})
	if err != nil {
		return fmt.Errorf("adopt bridge %s: build protocols mutation: %w", br.Name, err)
	}
	if err := c.transactAndWait(ctx, ops); err != nil {
		return fmt.Errorf("adopt bridge %s: add protocols %v: %w", br.Name, missing, err)
	}
	log.WithField("added_protocols", missing).Info("existing bridge adopted; OpenFlow versions added")
	return nil
}

// normDatapath maps the default datapath's two spellings to one.
func normDatapath(t string) string {
	if t == "" {
		return "system"
	}
	return t
}

// NameTables gives the bridge's OpenFlow tables names (Flow_Table rows in
// the bridge's flow_tables map), so that `ovs-ofctl dump-flows --names`,
// `dump-tables` and ofproto/trace show "egress_rules" rather than 31.
// Tables that already carry the right name are left alone, a table named
// differently is renamed in place (other Flow_Table settings such as
// flow_limit are kept), and tables not in names are not touched, so
// calling it again changes nothing. It returns once ovs-vswitchd has
// applied the names.
func (c *Client) NameTables(ctx context.Context, bridgeName string, names map[uint8]string) error {
	br, ok := c.bridge(bridgeName)
	if !ok {
		return fmt.Errorf("name tables: bridge %s does not exist", bridgeName)
	}
	var tables []flowTable
	if err := c.cli.List(ctx, &tables); err != nil {
		return fmt.Errorf("name tables of %s: read Flow_Table: %w", bridgeName, err)
	}
	byUUID := map[string]flowTable{}
	for _, t := range tables {
		byUUID[t.UUID] = t
	}
	var ops []libovsdb.Operation
	added := map[int]string{}
	for _, id := range slices.Sorted(maps.Keys(names)) {
		name := names[id]
		if u, ok := br.FlowTables[int(id)]; ok {
			ft, known := byUUID[u]
			if known && deref(ft.Name) == name {
				continue
			}
			if known {
				ft.Name = &name
				op, err := c.cli.Where(&ft).Update(&ft, &ft.Name)
				if err != nil {
					return fmt.Errorf("name table %d of %s: build update: %w", id, bridgeName, err)
				}
				ops = append(ops, op...)
				continue
			}
		}
		n := name
		ft := &flowTable{UUID: fmt.Sprintf("table%d", id), Name: &n}
		op, err := c.cli.Create(ft)
		if err != nil {
			return fmt.Errorf("name table %d of %s: build insert: %w", id, bridgeName, err)
		}
		ops = append(ops, op...)
		added[int(id)] = ft.UUID
	}
	if len(added) > 0 {
		// A key already present (pointing at a row the cache does not
		// know) must go before the insert, which never overwrites.
		keys := slices.Collect(maps.Keys(added))
		op, err := c.cli.Where(&br).Mutate(&br,
			model.Mutation{Field: &br.FlowTables, Mutator: libovsdb.MutateOperationDelete, Value: keys},
			model.Mutation{Field: &br.FlowTables, Mutator: libovsdb.MutateOperationInsert, Value: added})
		if err != nil {
			return fmt.Errorf("name tables of %s: build flow_tables mutation: %w", bridgeName, err)
		}
		ops = append(ops, op...)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := c.transactAndWait(ctx, ops); err != nil {
		return fmt.Errorf("name tables of %s: %w", bridgeName, err)
	}
	return nil
}

// SetFlowRestoreWait sets or clears other_config:flow-restore-wait. While
// it is true, ovs-vswitchd keeps the datapath's flows and processes no
// OpenFlow-table misses, so that after an ovs-vswitchd restart traffic of
// existing datapath flows keeps flowing until someone has restored the
// OpenFlow flows and clears it (the upgrade dance of ovs-ctl restart).
// It does not wait for ovs-vswitchd, which may legitimately not be
// running yet when the flag is set.
func (c *Client) SetFlowRestoreWait(ctx context.Context, on bool) error {
	root, err := c.root()
	if err != nil {
		return fmt.Errorf("flow-restore-wait: %w", err)
	}
	const key = "flow-restore-wait"
	muts := []model.Mutation{{Field: &root.OtherConfig, Mutator: libovsdb.MutateOperationDelete, Value: []string{key}}}
	if on {
		muts = append(muts, model.Mutation{Field: &root.OtherConfig, Mutator: libovsdb.MutateOperationInsert, Value: map[string]string{key: "true"}})
	}
	ops, err := c.cli.Where(&root).Mutate(&root, muts...)
	if err != nil {
		return fmt.Errorf("flow-restore-wait: build mutation: %w", err)
	}
	if _, err := c.transact(ctx, ops); err != nil {
		return fmt.Errorf("set flow-restore-wait=%t: %w", on, err)
	}
	return nil
}
