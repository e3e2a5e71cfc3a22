package kube

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// Origin is the file name decode errors and origins carry for objects read
// from the API server ("kubernetes:1: GlobalNetworkPolicy x: spec.selector: ...").
const Origin = "kubernetes"

// store is the decoded state of every watched object: for each, its last
// good decoding (what is in force) and its current problems. Informer
// handlers write it; the source's loop reads snapshots from it.
type store struct {
	log    *logrus.Entry
	report func(res *resource, ref corev1.ObjectReference, msg string) // posts an Event; nil: none

	mu      sync.Mutex
	entries map[string]*entry
	ready   map[string]bool // resources whose initial list has been delivered
	version uint64          // bumped whenever the objects in force change
	keys    []string        // entries' keys sorted; nil when stale
	notify  chan struct{}   // signalled (never blocking) after every change
}

// entry is one object of the cluster.
type entry struct {
	res  *resource
	ref  corev1.ObjectReference
	sum  [32]byte        // of the JSON last decoded, to skip no-op updates
	objs []decode.Object // the last good decoding: what is in force
	// problems is the current content's decoding problems (nil when it is
	// valid); reported is the text last logged and posted, so that a
	// problem is reported once, not on every update.
	problems []error
	reported string
	// crossReported is the text of the last reported problem found only
	// between objects (a policy naming a tier that does not exist).
	crossReported string
}

func newStore(log *logrus.Entry) *store {
	return &store{log: log, entries: map[string]*entry{}, ready: map[string]bool{}, notify: make(chan struct{}, 1)}
}

func (s *store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// setReady marks a resource's initial list as delivered: its objects join
// the snapshots from now on.
func (s *store) setReady(res *resource) {
	s.mu.Lock()
	s.ready[res.name] = true
	s.version++
	s.mu.Unlock()
	s.signal()
}

// upsert decodes an added or updated object and records it. An object whose
// content did not change (after trimming) costs one hash.
func (s *store) upsert(res *resource, obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		s.log.WithError(err).WithField("resource", res.name).Warn("object without a key ignored")
		return
	}
	js, ref, err := encode(res, obj)
	if err != nil {
		s.log.WithError(err).WithFields(logrus.Fields{"resource": res.name, "object": key}).Warn("object not readable; ignored")
		return
	}
	s.put(res, key, js, ref)
}

// put records the JSON document an object stands for (the object itself,
// or what it implies: a Node's automatic host endpoint), keyed by the
// object and reported against ref.
func (s *store) put(res *resource, key string, js []byte, ref corev1.ObjectReference) {
	key = res.name + "|" + key
	sum := sha256.Sum256(js)
	s.mu.Lock()
	e := s.entries[key]
	if e != nil && e.sum == sum {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()

	// Decoding happens outside the lock. Each key belongs to one informer,
	// whose handler calls are sequential, so no other upsert of this key
	// runs meanwhile.
	objs, errs := decode.Decode(Origin, js)

	s.mu.Lock()
	if e == nil {
		e = &entry{res: res}
		s.entries[key] = e
		s.keys = nil
	}
	e.ref, e.sum = ref, sum
	var msg string
	wasBad := e.reported != ""
	if len(errs) == 0 {
		e.objs, e.problems, e.reported = objs, nil, ""
		s.version++
	} else {
		e.problems = errs
		msg = eventMessage(errs)
		if msg == e.reported {
			msg = ""
		} else {
			e.reported = msg
		}
	}
	kept := len(e.objs) > 0
	s.mu.Unlock()
	s.signal()

	fields := logrus.Fields{"resource": res.name, "object": objectName(ref)}
	switch {
	case msg != "":
		for _, err := range errs {
			s.log.WithFields(fields).WithField("lastGoodKept", kept).WithError(err).Warn("invalid object: its last good version stays in force")
		}
		if s.report != nil {
			s.report(res, ref, msg)
		}
	case len(errs) == 0 && wasBad:
		s.log.WithFields(fields).Info("object valid again")
	}
}

// remove forgets a deleted object: what it put in force goes.
func (s *store) remove(res *resource, obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		s.log.WithError(err).WithField("resource", res.name).Warn("deleted object without a key ignored")
		return
	}
	key = res.name + "|" + key
	s.mu.Lock()
	if _, ok := s.entries[key]; ok {
		delete(s.entries, key)
		s.keys = nil
		s.version++
	}
	s.mu.Unlock()
	s.signal()
}

// snapshot returns the objects in force, in a stable order (by resource,
// namespace and name), and the version they are at.
func (s *store) snapshot() ([]decode.Object, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make([]string, 0, len(s.entries))
		for k := range s.entries {
			s.keys = append(s.keys, k)
		}
		sort.Strings(s.keys)
	}
	n := 0
	for _, k := range s.keys {
		n += len(s.entries[k].objs)
	}
	objs := make([]decode.Object, 0, n)
	for _, k := range s.keys {
		e := s.entries[k]
		if s.ready[e.res.name] && !s.shadowed(k, e) {
			objs = append(objs, e.objs...)
		}
	}
	return objs, s.version
}

// shadowed reports whether e is a Node's automatic host endpoint that a
// HostEndpoint object of the same name replaces (one exported from a
// Calico cluster, say): the object is what the user wrote, and two host
// endpoints of one name would be a conflict on every realization.
func (s *store) shadowed(key string, e *entry) bool {
	node, ok := strings.CutPrefix(key, resNodes.name+"|")
	if !ok || e.res != &resNodes {
		return false
	}
	x := s.entries[hostEndpointsName+"|"+node+AutoHostEndpointSuffix]
	return x != nil && len(x.objs) > 0 && s.ready[hostEndpointsName]
}

// checkCrossObject reports problems that only show between objects — a
// policy in a tier that does not exist — the way the engine will meet them
// (decode.Build, which leaves such objects out). Only tiers and policies
// can have them, so only they are built.
func (s *store) checkCrossObject(objs []decode.Object) {
	var sub []decode.Object
	for _, o := range objs {
		switch o.Value.(type) {
		case *policy.Tier, *policy.Policy, *policy.StagedPolicy:
			sub = append(sub, o)
		}
	}
	_, errs := decode.Build(sub)
	byRef := map[string][]error{}
	for _, err := range errs {
		var de *decode.Error
		if errors.As(err, &de) {
			byRef[de.Object] = append(byRef[de.Object], err)
		}
	}
	type report struct {
		res *resource
		ref corev1.ObjectReference
		msg string
	}
	var reports []report
	s.mu.Lock()
	for _, e := range s.entries {
		if len(e.objs) == 0 {
			continue
		}
		errs := byRef[e.objs[0].Ref()]
		msg := ""
		if len(errs) > 0 {
			msg = eventMessage(errs)
		}
		if msg != e.crossReported {
			e.crossReported = msg
			if msg != "" {
				reports = append(reports, report{e.res, e.ref, msg})
			}
		}
	}
	s.mu.Unlock()
	for _, r := range reports {
		s.log.WithFields(logrus.Fields{"resource": r.res.name, "object": objectName(r.ref)}).
			Warn("object not enforced: " + r.msg)
		if s.report != nil {
			s.report(r.res, r.ref, r.msg)
		}
	}
}

// eventMessage words problems for an Event on the object itself: the field
// and what is wrong, without the origin and object name the log carries.
func eventMessage(errs []error) string {
	parts := make([]string, 0, len(errs))
	for _, err := range errs {
		var de *decode.Error
		if errors.As(err, &de) {
			if de.Field != "" {
				parts = append(parts, de.Field+": "+de.Err.Error())
			} else {
				parts = append(parts, de.Err.Error())
			}
			continue
		}
		parts = append(parts, err.Error())
	}
	msg := strings.Join(parts, "; ")
	if len(msg) > 1000 { // the API server caps Event messages at 1 KiB
		msg = msg[:997] + "..."
	}
	return msg
}

func objectName(ref corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return ref.Kind + " " + ref.Name
	}
	return ref.Kind + " " + ref.Namespace + "/" + ref.Name
}

// encode turns an informer object into the JSON the decoders read, without
// the fields that change on every write (resourceVersion), so that an
// update that changes nothing policy reads is recognised as such, and into
// a reference for Events.
func encode(res *resource, obj any) ([]byte, corev1.ObjectReference, error) {
	var ref corev1.ObjectReference
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, ref, fmt.Errorf("%s: %w", res.name, err)
	}
	ref = corev1.ObjectReference{
		APIVersion: res.apiVersion, Kind: res.kind,
		Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
	}
	var v any
	switch o := obj.(type) {
	case *corev1.Pod:
		cp := *o
		cp.ResourceVersion = ""
		v = &cp
	case *corev1.Namespace:
		cp := *o
		cp.ResourceVersion = ""
		v = &cp
	case *corev1.ServiceAccount:
		cp := *o
		cp.ResourceVersion = ""
		v = &cp
	case *networkingv1.NetworkPolicy:
		cp := *o
		cp.ResourceVersion = ""
		v = &cp
	case *unstructured.Unstructured:
		top := make(map[string]any, len(o.Object))
		for k, x := range o.Object {
			top[k] = x
		}
		if md, ok := o.Object["metadata"].(map[string]any); ok {
			cp := make(map[string]any, len(md))
			for k, x := range md {
				if k != "resourceVersion" && k != "managedFields" {
					cp[k] = x
				}
			}
			top["metadata"] = cp
		}
		v = top
	default:
		return nil, ref, fmt.Errorf("%s: unexpected object type %T", res.name, obj)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, ref, fmt.Errorf("%s %s: encode: %w", res.name, objectName(ref), err)
	}
	return js, ref, nil
}
