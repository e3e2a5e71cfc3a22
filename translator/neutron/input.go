package neutron

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/translator/decode"
)

// SecurityGroup is one Neutron security group as read, before it is checked.
type SecurityGroup struct {
	// ID is the group's UUID.
	ID string
	// Name and Description are the operator's; only shown in the YAML.
	Name, Description string
	// ProjectID owns the group.
	ProjectID string
	// Stateful is nil when the input does not say (Neutron's default:
	// stateful), false for a stateless group.
	Stateful *bool
	// Rules are the group's rules, in input order.
	Rules []*Rule
	// RulesKnown is false for a group read from `openstack security group
	// list`, which prints no rules: converting it as having none would
	// deny everything its ports need.
	RulesKnown bool

	loc location
	raw string
}

// Rule is one Neutron security group rule as read.
type Rule struct {
	// ID is the rule's UUID.
	ID string
	// SecurityGroupID is the group the rule belongs to (set from the
	// enclosing group when the input nests rules).
	SecurityGroupID string
	// Direction is "ingress" or "egress".
	Direction string
	// Ethertype is "IPv4" or "IPv6".
	Ethertype string
	// Protocol is a name, a number written as text, or nil for any.
	Protocol *string
	// PortRangeMin and PortRangeMax bound destination ports, or hold the
	// ICMP type and code for ICMP; nil when absent or null.
	PortRangeMin, PortRangeMax *int
	// RemoteIPPrefix, RemoteGroupID and RemoteAddressGroupID say who the
	// peer is (at most one is set); empty when null.
	RemoteIPPrefix, RemoteGroupID, RemoteAddressGroupID string

	loc location
}

// Port is one Neutron port as read.
type Port struct {
	// ID is the port's UUID, which Nova/os-vif write into the OVS
	// interface's external_ids:iface-id.
	ID string
	// Name is the operator's name for the port.
	Name string
	// MACAddress is the port's MAC.
	MACAddress string
	// NetworkID is the network the port is on.
	NetworkID string
	// DeviceOwner says what uses the port ("compute:nova", "network:dhcp", ...).
	DeviceOwner string
	// DeviceID is the VM (or router, DHCP agent) using the port.
	DeviceID string
	// ProjectID owns the port.
	ProjectID string
	// HostID is binding:host_id, the hypervisor the port is bound to.
	HostID string
	// FixedIPs are the port's addresses.
	FixedIPs []FixedIP
	// SecurityGroups are the IDs of the port's groups.
	SecurityGroups []string
	// PortSecurityEnabled is nil when the input does not say (Neutron's
	// default: enabled).
	PortSecurityEnabled *bool
	// AllowedAddressPairs are the extra addresses (and MACs) the port may use.
	AllowedAddressPairs []AddressPair
	// Missing lists the fields a `port list` row does not carry; Import
	// assumes Neutron's defaults for them and says so.
	Missing []string

	loc location
	raw string
}

// FixedIP is one of a port's addresses.
type FixedIP struct {
	// IPAddress is the address.
	IPAddress string
	// SubnetID is the subnet it was allocated from.
	SubnetID string
}

// AddressPair is one allowed address pair: an address or prefix, and the
// MAC it may be used with (the port's own when empty).
type AddressPair struct {
	// IPAddress is an address or a CIDR.
	IPAddress string
	// MACAddress is the pair's MAC; empty means the port's.
	MACAddress string
}

// AddressGroup is a Neutron address group: named CIDRs that rules can use
// as their remote (remote_address_group_id).
type AddressGroup struct {
	// ID is the group's UUID.
	ID string
	// Name is the operator's name.
	Name string
	// ProjectID owns the group.
	ProjectID string
	// Addresses are CIDRs.
	Addresses []string

	loc location
	raw string
}

// Input is everything read from Neutron's JSON, possibly from several
// files; Import checks and converts it.
type Input struct {
	// SecurityGroups, in input order.
	SecurityGroups []*SecurityGroup
	// Rules read on their own (GET /v2.0/security-group-rules, `openstack
	// security group rule show -f json`); Import adds them to their groups.
	Rules []*Rule
	// RuleList is true when a complete rule list (GET
	// /v2.0/security-group-rules) was read: then a group with no rule in
	// it truly has none.
	RuleList bool
	// Ports, in input order.
	Ports []*Port
	// AddressGroups, in input order.
	AddressGroups []*AddressGroup
	// Files are the inputs' names, in the order read.
	Files []string
}

// Add appends other's contents to in.
func (in *Input) Add(other *Input) {
	in.SecurityGroups = append(in.SecurityGroups, other.SecurityGroups...)
	in.Rules = append(in.Rules, other.Rules...)
	in.RuleList = in.RuleList || other.RuleList
	in.Ports = append(in.Ports, other.Ports...)
	in.AddressGroups = append(in.AddressGroups, other.AddressGroups...)
	in.Files = append(in.Files, other.Files...)
}

// location says where a record was read, for errors: the file, the line
// where the object starts, the object's name and the path of the record
// inside the object (a rule inside its group).
type location struct {
	file   string
	line   int
	object string
	path   string
}

// errorf makes a decode.Error for field (relative to the record).
func (l location) errorf(field, format string, args ...any) error {
	return l.err(field, fmt.Errorf(format, args...))
}

func (l location) err(field string, err error) error {
	f := field
	if l.path != "" {
		f = l.path
		if field != "" {
			f += "." + field
		}
	}
	return &decode.Error{File: l.file, Line: l.line, Object: l.object, Field: f, Err: err}
}

// decoder reads one file.
type decoder struct {
	file string
	data []byte
	in   *Input
	errs []error
}

// Decode reads every Neutron object in data: security groups (with their
// rules), rules, ports and address groups, in the shapes the Neutron API
// and the openstack client print them — one object, a list of objects, an
// API collection ({"security_groups": [...]}, {"ports": [...]}, ...) or
// single resource ({"port": {...}}), or several such documents one after
// another. file names the input in errors. Unknown fields are ignored
// (Neutron grows new ones); fields flowgate uses must have the right type.
func Decode(file string, data []byte) (*Input, []error) {
	d := &decoder{file: file, data: data, in: &Input{Files: []string{file}}}
	vals, err := topValues(data)
	for i, v := range vals {
		d.value(v, fmt.Sprintf("document %d", i+1))
	}
	if err != nil {
		d.errs = append(d.errs, &decode.Error{File: file, Err: err})
	}
	if len(vals) == 0 && err == nil {
		d.errs = append(d.errs, &decode.Error{File: file, Err: fmt.Errorf("no JSON document in the input")})
	}
	return d.in, d.errs
}

func (d *decoder) loc(v value, where string) location {
	return location{file: d.file, line: lineAt(d.data, v.off), object: where}
}

func (d *decoder) fail(v value, where, field string, err error) {
	d.errs = append(d.errs, d.loc(v, where).err(field, err))
}

// value reads a top-level document or a list element.
func (d *decoder) value(v value, where string) {
	switch v.kind() {
	case "a list":
		els, err := v.elements()
		if err != nil {
			d.fail(v, where, "", err)
			return
		}
		for i, el := range els {
			d.value(el, fmt.Sprintf("%s item %d", where, i+1))
		}
	case "a mapping":
		d.object(v, where)
	default:
		d.fail(v, where, "", fmt.Errorf("want a Neutron object or a list of them, got %s", v.kind()))
	}
}

// object reads one JSON object, whatever Neutron resource it is.
func (d *decoder) object(v value, where string) {
	ms, err := v.members()
	if err != nil {
		d.fail(v, where, "", err)
		return
	}
	m := make(map[string]value, len(ms))
	for _, mb := range ms {
		m[mb.key] = mb.val
	}
	switch classify(m) {
	case "wrapper":
		for _, mb := range ms {
			d.wrapped(mb, where)
		}
	case "group":
		d.group(v, m, where)
	case "rule":
		if r := d.rule(d.fields(v, m, where), "", false); r != nil {
			d.in.Rules = append(d.in.Rules, r)
		}
	case "port":
		d.port(v, m, where)
	case "address group":
		d.addressGroup(v, m, where)
	case "group row":
		d.groupRow(v, m, where)
	case "port row":
		d.portRow(v, m, where)
	case "address group row":
		d.addressGroupRow(v, m, where)
	case "rule row":
		d.fail(v, where, "", fmt.Errorf("`openstack security group rule list` output drops ICMP type 0 and prints port ranges as text; use `openstack security group show -f json` for each group, or GET /v2.0/security-groups"))
	default:
		d.fail(v, where, "", fmt.Errorf("not a Neutron security group, rule, port or address group (no id with rules, direction, mac_address or addresses; no security_groups, ports or address_groups collection)"))
	}
}

// collections are the API's list and show envelopes.
var collections = map[string]bool{
	"security_groups": true, "ports": true, "address_groups": true, "security_group_rules": true,
	"security_group": false, "port": false, "address_group": false, "security_group_rule": false,
}

func classify(m map[string]value) string {
	has := func(k string) bool { _, ok := m[k]; return ok }
	if !has("id") {
		for k := range collections {
			if has(k) {
				return "wrapper"
			}
		}
	}
	switch {
	case has("ID"):
		switch {
		case has("MAC Address") || has("Fixed IP Addresses"):
			return "port row"
		case has("Addresses"):
			return "address group row"
		case has("IP Protocol") || has("Port Range"):
			return "rule row"
		}
		return "group row"
	case has("direction") && has("ethertype"):
		return "rule"
	case has("mac_address") || has("fixed_ips"):
		return "port"
	case has("addresses"):
		return "address group"
	case has("rules") || has("security_group_rules") || has("stateful"):
		return "group"
	}
	return ""
}

// wrapped reads one member of an API envelope.
func (d *decoder) wrapped(mb member, where string) {
	list, ok := collections[mb.key]
	if !ok {
		return // pagination links and the like
	}
	if !list {
		d.typed(mb.key, mb.val, mb.key)
		return
	}
	els, err := mb.val.elements()
	if err != nil {
		d.fail(mb.val, where, mb.key, err)
		return
	}
	if mb.key == "security_group_rules" {
		d.in.RuleList = true
	}
	for i, el := range els {
		d.typed(mb.key, el, fmt.Sprintf("%s[%d]", mb.key, i))
	}
}

// typed reads an object whose resource type its envelope names.
func (d *decoder) typed(key string, v value, where string) {
	ms, err := v.members()
	if err != nil {
		d.fail(v, where, "", err)
		return
	}
	m := make(map[string]value, len(ms))
	for _, mb := range ms {
		m[mb.key] = mb.val
	}
	switch strings.TrimSuffix(key, "s") {
	case "security_group":
		d.group(v, m, where)
	case "security_group_rule":
		if r := d.rule(d.fields(v, m, where), "", false); r != nil {
			d.in.Rules = append(d.in.Rules, r)
		}
	case "port":
		d.port(v, m, where)
	case "address_group":
		d.addressGroup(v, m, where)
	}
}

// fields reads typed fields of one object, recording a problem for each
// field of the wrong type and treating null as absent.
type fields struct {
	m    map[string]value
	loc  location
	data []byte // the file, to turn offsets into lines
	errs *[]error
}

func (f *fields) get(key string) (value, bool) {
	v, ok := f.m[key]
	if !ok || v.isNull() {
		return value{}, false
	}
	return v, true
}

func (f *fields) bad(key string, want string, v value) {
	*f.errs = append(*f.errs, f.loc.errorf(key, "want %s, got %s", want, v.kind()))
}

// str reads a string field ("" when absent or null).
func (f *fields) str(key string) string {
	v, ok := f.get(key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v.raw, &s) != nil {
		f.bad(key, "a string", v)
	}
	return s
}

// first reads the first of several spellings of one field.
func (f *fields) first(keys ...string) string {
	for _, k := range keys {
		if _, ok := f.get(k); ok {
			return f.str(k)
		}
	}
	return ""
}

// text reads a string or a number as text (protocols: "tcp", "6", 6).
func (f *fields) text(key string) *string {
	v, ok := f.get(key)
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(v.raw, &s) == nil {
		return &s
	}
	var n json.Number
	if json.Unmarshal(v.raw, &n) == nil {
		s = n.String()
		return &s
	}
	f.bad(key, "a string or a number", v)
	return nil
}

// integer reads a whole number (or one written as a string) or nil.
func (f *fields) integer(key string) *int {
	v, ok := f.get(key)
	if !ok {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(v.raw, &n); err == nil {
		if i, err := strconv.Atoi(n.String()); err == nil {
			return &i
		}
	} else {
		var s string
		if json.Unmarshal(v.raw, &s) == nil {
			if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				return &i
			}
		}
	}
	*f.errs = append(*f.errs, f.loc.errorf(key, "want a whole number, got %s", string(v.raw)))
	return nil
}

func (f *fields) boolean(key string) *bool {
	v, ok := f.get(key)
	if !ok {
		return nil
	}
	var b bool
	if json.Unmarshal(v.raw, &b) != nil {
		f.bad(key, "true or false", v)
		return nil
	}
	return &b
}

// strings reads a list of strings; ok is false when the field is absent.
func (f *fields) strings(key string) (out []string, ok bool) {
	v, present := f.get(key)
	if !present {
		_, ok = f.m[key]
		return nil, ok
	}
	els, err := v.elements()
	if err != nil {
		f.bad(key, "a list of strings", v)
		return nil, true
	}
	for i, el := range els {
		var s string
		if json.Unmarshal(el.raw, &s) != nil {
			f.bad(fmt.Sprintf("%s[%d]", key, i), "a string", el)
			continue
		}
		out = append(out, s)
	}
	return out, true
}

// objects reads a list of objects; ok is false when the field is absent.
func (f *fields) objects(key string) (out []*fields, ok bool) {
	v, present := f.get(key)
	if !present {
		_, ok = f.m[key]
		return nil, ok
	}
	els, err := v.elements()
	if err != nil {
		f.bad(key, "a list of mappings", v)
		return nil, true
	}
	for i, el := range els {
		sub := &fields{loc: f.loc, data: f.data, errs: f.errs}
		p := fmt.Sprintf("%s[%d]", key, i)
		if f.loc.path != "" {
			p = f.loc.path + "." + p
		}
		sub.loc.path = p
		sub.loc.line = lineAt(f.data, el.off)
		ms, err := el.members()
		if err != nil {
			f.bad(fmt.Sprintf("%s[%d]", key, i), "a mapping", el)
			continue
		}
		sub.m = make(map[string]value, len(ms))
		for _, mb := range ms {
			sub.m[mb.key] = mb.val
		}
		out = append(out, sub)
	}
	return out, true
}

// named gives a record its name in errors once its id and name are known.
func named(kind, id, name string) string {
	s := kind + " " + id
	if id == "" {
		s = kind + " (no id)"
	}
	if name != "" && name != id {
		s += " (" + name + ")"
	}
	return s
}

func (d *decoder) fields(v value, m map[string]value, where string) *fields {
	return &fields{m: m, loc: d.loc(v, where), data: d.data, errs: &d.errs}
}

func (d *decoder) group(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	g := &SecurityGroup{raw: string(v.raw)}
	g.ID = f.str("id")
	g.Name = f.str("name")
	f.loc.object = named("SecurityGroup", g.ID, g.Name)
	g.Description = f.str("description")
	g.ProjectID = f.first("project_id", "tenant_id")
	g.Stateful = f.boolean("stateful")
	g.loc = f.loc
	key := "security_group_rules"
	if _, ok := m["rules"]; ok {
		key = "rules"
	}
	rules, ok := f.objects(key)
	g.RulesKnown = ok
	for _, rf := range rules {
		if r := d.rule(rf, g.ID, true); r != nil {
			g.Rules = append(g.Rules, r)
		}
	}
	if g.ID == "" {
		d.errs = append(d.errs, g.loc.errorf("id", "required"))
		return
	}
	d.in.SecurityGroups = append(d.in.SecurityGroups, g)
}

// rule reads one rule, nested in group groupID or on its own. A rule with
// any field of the wrong type is left out: reading that field as absent
// would widen the rule (no port range means every port).
func (d *decoder) rule(f *fields, groupID string, nested bool) *Rule {
	before := len(d.errs)
	r := &Rule{}
	r.ID = f.str("id")
	r.SecurityGroupID = f.str("security_group_id")
	if nested {
		r.SecurityGroupID = groupID // the enclosing group is authoritative
	}
	if !nested {
		f.loc.object = named("SecurityGroupRule", r.ID, "")
	}
	r.Direction = f.str("direction")
	r.Ethertype = f.str("ethertype")
	r.Protocol = f.text("protocol")
	r.PortRangeMin = f.integer("port_range_min")
	r.PortRangeMax = f.integer("port_range_max")
	r.RemoteIPPrefix = f.str("remote_ip_prefix")
	r.RemoteGroupID = f.str("remote_group_id")
	r.RemoteAddressGroupID = f.str("remote_address_group_id")
	r.loc = f.loc
	if !nested && r.SecurityGroupID == "" {
		d.errs = append(d.errs, r.loc.errorf("security_group_id", "required for a rule read on its own"))
	}
	if len(d.errs) > before {
		return nil
	}
	return r
}

func (d *decoder) port(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	p := &Port{raw: string(v.raw)}
	p.ID = f.str("id")
	p.Name = f.str("name")
	f.loc.object = named("Port", p.ID, p.Name)
	p.MACAddress = f.str("mac_address")
	p.NetworkID = f.str("network_id")
	p.DeviceOwner = f.str("device_owner")
	p.DeviceID = f.str("device_id")
	p.ProjectID = f.first("project_id", "tenant_id")
	p.HostID = f.first("binding:host_id", "binding_host_id")
	ips, _ := f.objects("fixed_ips")
	for _, ipf := range ips {
		p.FixedIPs = append(p.FixedIPs, FixedIP{IPAddress: ipf.str("ip_address"), SubnetID: ipf.str("subnet_id")})
	}
	sgKey := "security_groups"
	if _, ok := m["security_group_ids"]; ok {
		sgKey = "security_group_ids" // openstack port show
	}
	var hasGroups bool
	p.SecurityGroups, hasGroups = f.strings(sgKey)
	if !hasGroups {
		p.Missing = append(p.Missing, "security_groups")
	}
	p.PortSecurityEnabled = f.boolean("port_security_enabled")
	pairs, hasPairs := f.objects("allowed_address_pairs")
	for _, pf := range pairs {
		p.AllowedAddressPairs = append(p.AllowedAddressPairs, AddressPair{IPAddress: pf.str("ip_address"), MACAddress: pf.str("mac_address")})
	}
	if !hasPairs {
		p.Missing = append(p.Missing, "allowed_address_pairs")
	}
	p.loc = f.loc
	if p.ID == "" {
		d.errs = append(d.errs, p.loc.errorf("id", "required"))
		return
	}
	d.in.Ports = append(d.in.Ports, p)
}

func (d *decoder) addressGroup(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	g := &AddressGroup{raw: string(v.raw)}
	g.ID = f.str("id")
	g.Name = f.str("name")
	f.loc.object = named("AddressGroup", g.ID, g.Name)
	g.ProjectID = f.first("project_id", "tenant_id")
	g.Addresses, _ = f.strings("addresses")
	g.loc = f.loc
	if g.ID == "" {
		d.errs = append(d.errs, g.loc.errorf("id", "required"))
		return
	}
	d.in.AddressGroups = append(d.in.AddressGroups, g)
}

// groupRow reads a row of `openstack security group list -f json`: the
// group's identity, without its rules.
func (d *decoder) groupRow(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	g := &SecurityGroup{raw: string(v.raw)}
	g.ID = f.str("ID")
	g.Name = f.str("Name")
	f.loc.object = named("SecurityGroup", g.ID, g.Name)
	g.Description = f.str("Description")
	g.ProjectID = f.str("Project")
	g.loc = f.loc
	if g.ID == "" {
		d.errs = append(d.errs, g.loc.errorf("ID", "required"))
		return
	}
	d.in.SecurityGroups = append(d.in.SecurityGroups, g)
}

// oldFixedIP matches one address of an old openstack client's
// "ip_address='10.0.0.3', subnet_id='...'" text.
var oldFixedIP = regexp.MustCompile(`ip_address='([^']*)'`)

// portRow reads a row of `openstack port list [--long] -f json`, which
// has no network, port security or allowed address pairs.
func (d *decoder) portRow(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	p := &Port{raw: string(v.raw), Missing: []string{"network_id", "port_security_enabled", "allowed_address_pairs"}}
	p.ID = f.str("ID")
	p.Name = f.str("Name")
	f.loc.object = named("Port", p.ID, p.Name)
	p.MACAddress = f.str("MAC Address")
	p.DeviceOwner = f.str("Device Owner")
	if fv, ok := f.get("Fixed IP Addresses"); ok && fv.kind() == "a string" {
		s := f.str("Fixed IP Addresses")
		for _, sm := range oldFixedIP.FindAllStringSubmatch(s, -1) {
			p.FixedIPs = append(p.FixedIPs, FixedIP{IPAddress: sm[1]})
		}
	} else {
		ips, _ := f.objects("Fixed IP Addresses")
		for _, ipf := range ips {
			p.FixedIPs = append(p.FixedIPs, FixedIP{IPAddress: ipf.str("ip_address"), SubnetID: ipf.str("subnet_id")})
		}
	}
	var hasGroups bool
	p.SecurityGroups, hasGroups = f.strings("Security Groups")
	if !hasGroups {
		p.Missing = append(p.Missing, "security_groups")
	}
	p.loc = f.loc
	if p.ID == "" {
		d.errs = append(d.errs, p.loc.errorf("ID", "required"))
		return
	}
	d.in.Ports = append(d.in.Ports, p)
}

// addressGroupRow reads a row of `openstack address group list -f json`.
func (d *decoder) addressGroupRow(v value, m map[string]value, where string) {
	f := d.fields(v, m, where)
	g := &AddressGroup{raw: string(v.raw)}
	g.ID = f.str("ID")
	g.Name = f.str("Name")
	f.loc.object = named("AddressGroup", g.ID, g.Name)
	g.ProjectID = f.str("Project")
	g.Addresses, _ = f.strings("Addresses")
	g.loc = f.loc
	if g.ID == "" {
		d.errs = append(d.errs, g.loc.errorf("ID", "required"))
		return
	}
	d.in.AddressGroups = append(d.in.AddressGroups, g)
}
