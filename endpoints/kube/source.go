package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/flowgate/flowgate/endpoints"
)

// Config says which cluster to watch and how.
type Config struct {
	// Kubeconfig is a kubeconfig file; "" means the in-cluster config (the
	// DaemonSet's service account).
	Kubeconfig string
	// NodeName is this node's name. It is the source of the Events the
	// agent posts and the node it reports invalid objects for; which pods
	// are local is the engine's business (spec.nodeName = this name).
	NodeName string
	// Debounce batches changes: a snapshot goes out this long after the
	// first change not yet sent, so a `kubectl apply` of many objects is
	// realized once. 0 means DefaultDebounce.
	Debounce time.Duration
	// AutoHostEndpoints derives a wildcard HostEndpoint "<node>-auto-hep"
	// from every Node, as Calico's kube-controllers does with
	// hostEndpoint.autoCreate: Enabled (see autoHostEndpoint): the node's
	// labels, its InternalIP addresses, interfaceName "*" and the
	// default-allow profile. They follow the Nodes live.
	AutoHostEndpoints bool
	// Rediscover is how often the agent looks again for projectcalico.org/v3
	// kinds the API server did not serve (CRDs installed after the agent).
	// 0 means DefaultRediscover.
	Rediscover time.Duration
}

// Defaults for Config.
const (
	DefaultDebounce   = 50 * time.Millisecond
	DefaultRediscover = 30 * time.Second
)

// Source watches one cluster. Create it with New or NewForConfig, then call
// Watch once.
type Source struct {
	cfg         Config
	client      kubernetes.Interface
	dynamic     dynamic.Interface
	discovery   discovery.DiscoveryInterface
	broadcaster record.EventBroadcaster // nil when the recorder was given
	store       *store
	reporter    *reporter
	log         *logrus.Entry

	calicoStarted map[string]bool
}

// RESTConfig loads a kubeconfig file, or the in-cluster config when path is
// empty.
func RESTConfig(path string) (*rest.Config, error) {
	if path == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes config (give a kubeconfig outside a pod): %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return rc, nil
}

// New connects to the cluster cfg names. It does not contact the API
// server yet; Watch does.
func New(cfg Config) (*Source, error) {
	rc, err := RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewForConfig(rc, cfg)
}

// NewForConfig is New with a REST config already loaded.
func NewForConfig(rc *rest.Config, cfg Config) (*Source, error) {
	rc = rest.CopyConfig(rc)
	if rc.UserAgent == "" {
		rc.UserAgent = "flowgate-agent"
	}
	// Lists and watches are few; the headroom is for Events after a bad
	// apply of many objects, which must not starve the watches.
	rc.QPS, rc.Burst = 20, 40
	routeKlog()
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	b := record.NewBroadcaster()
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "flowgate-agent", Host: cfg.NodeName})
	s := newSource(cfg, cs, dyn, cs.Discovery(), rec)
	s.broadcaster = b
	return s, nil
}

// newSource wires a source from clients (fakes in unit tests).
func newSource(cfg Config, client kubernetes.Interface, dyn dynamic.Interface, disc discovery.DiscoveryInterface, rec record.EventRecorder) *Source {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Rediscover <= 0 {
		cfg.Rediscover = DefaultRediscover
	}
	log := logrus.WithField("source", "kubernetes")
	s := &Source{
		cfg: cfg, client: client, dynamic: dyn, discovery: disc,
		reporter: newReporter(rec, cfg.NodeName), log: log,
		calicoStarted: map[string]bool{},
	}
	s.store = newStore(log)
	s.store.report = s.reporter.report
	return s
}

// Watch starts the informers and returns the snapshots: the first once
// every informer has its initial list (however long the API server takes
// to answer), then one whenever the objects in force changed, batched by
// Config.Debounce. Snapshots carry no Problems: the source logs a problem
// (and posts its Event) once, when it appears, instead of with every
// snapshot. The channel closes when ctx ends.
func (s *Source) Watch(ctx context.Context) <-chan endpoints.Snapshot {
	ch := make(chan endpoints.Snapshot)
	go s.run(ctx, ch)
	return ch
}

func (s *Source) run(ctx context.Context, ch chan<- endpoints.Snapshot) {
	defer close(ch)
	if s.broadcaster != nil {
		s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
		defer s.broadcaster.Shutdown()
	}
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTransform(trim))
	var pending []watched
	for _, w := range []struct {
		res *resource
		inf cache.SharedIndexInformer
	}{
		{&resNamespaces, factory.Core().V1().Namespaces().Informer()},
		{&resServiceAccounts, factory.Core().V1().ServiceAccounts().Informer()},
		{&resPods, factory.Core().V1().Pods().Informer()},
		{&resKubePolicies, factory.Networking().V1().NetworkPolicies().Informer()},
	} {
		pending = append(pending, s.handle(w.res, w.inf))
	}
	nodes := factory.Core().V1().Nodes().Informer()
	if nodeReg, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.nodeEvent(o, true) },
		UpdateFunc: func(_, o any) { s.nodeEvent(o, true) },
		DeleteFunc: func(o any) { s.nodeEvent(o, false) },
	}); err == nil {
		pending = append(pending, watched{res: &resNodes, synced: nodeReg.HasSynced})
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	dynFactory := dynamicinformer.NewDynamicSharedInformerFactory(s.dynamic, 0)
	defer dynFactory.Shutdown()
	for {
		served, err := s.servedCalico()
		if err == nil {
			pending = append(pending, s.startCalico(ctx, dynFactory, served)...)
			break
		}
		s.log.WithError(err).Warn("cannot ask the API server which projectcalico.org/v3 kinds it serves; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}

	if !s.waitSynced(ctx, pending) {
		return
	}
	if s.cfg.NodeName != "" && !s.reporter.hasNode(s.cfg.NodeName) {
		s.log.WithField("node", s.cfg.NodeName).Warn("no Node object has this name: check --node-name / NODE_NAME (pods are local when their spec.nodeName equals it)")
	}

	redisc := time.NewTicker(s.cfg.Rediscover)
	defer redisc.Stop()
	var sent uint64
	first := true
	for {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-redisc.C:
				if served, err := s.servedCalico(); err != nil {
					s.log.WithError(err).Debug("projectcalico.org/v3 discovery failed")
				} else {
					for _, w := range s.startCalico(ctx, dynFactory, served) {
						go func(w watched) {
							if cache.WaitForCacheSync(ctx.Done(), w.synced) {
								s.log.WithField("resource", w.res.name).Info("now watching")
								s.store.setReady(w.res)
							}
						}(w)
					}
				}
				continue
			case <-s.store.notify:
			}
			t := time.NewTimer(s.cfg.Debounce)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		objs, version := s.store.snapshot()
		if !first && version == sent {
			continue
		}
		s.store.checkCrossObject(objs)
		select {
		case ch <- endpoints.Snapshot{Objects: objs, Changed: true}:
		case <-ctx.Done():
			return
		}
		first, sent = false, version
	}
}

// watched is an informer whose handler has been registered.
type watched struct {
	res    *resource
	synced cache.InformerSynced
}

// handle registers the store's handlers on an informer.
func (s *Source) handle(res *resource, inf cache.SharedIndexInformer) watched {
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.store.upsert(res, o) },
		UpdateFunc: func(_, o any) { s.store.upsert(res, o) },
		DeleteFunc: func(o any) { s.store.remove(res, o) },
	})
	if err != nil { // only when the informer has stopped
		s.log.WithError(err).WithField("resource", res.name).Error("cannot watch")
		return watched{res: res, synced: func() bool { return false }}
	}
	return watched{res: res, synced: reg.HasSynced}
}

// waitSynced blocks until every informer has delivered its initial list,
// saying which ones it is still waiting for every 10 s, then marks them
// ready. It returns false if ctx ended first.
func (s *Source) waitSynced(ctx context.Context, ws []watched) bool {
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	lastLog := time.Now()
	for {
		var waiting []string
		for _, w := range ws {
			if !w.synced() {
				waiting = append(waiting, w.res.name)
			}
		}
		if len(waiting) == 0 {
			for _, w := range ws {
				s.store.setReady(w.res)
			}
			s.log.WithField("took", time.Since(start).Round(time.Millisecond).String()).Info("caches synced; enforcing")
			return true
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			s.log.WithField("waitingFor", strings.Join(waiting, ",")).Warn("waiting for the API server's initial lists; nothing changes on the bridge until then")
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// servedCalico asks which of calicoResources (the projectcalico.org/v3
// kinds and the cluster-scoped policy kinds) the API server serves. A
// group version it does not serve at all is no error.
func (s *Source) servedCalico() ([]*resource, error) {
	have := map[schema.GroupVersionResource]bool{}
	asked := map[schema.GroupVersion]bool{}
	for _, r := range calicoResources {
		gv := r.gvr.GroupVersion()
		if asked[gv] {
			continue
		}
		asked[gv] = true
		list, err := s.discovery.ServerResourcesForGroupVersion(gv.String())
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("discover %s: %w", gv, err)
		}
		for _, ar := range list.APIResources {
			have[gv.WithResource(ar.Name)] = true
		}
	}
	var out []*resource
	for i := range calicoResources {
		if have[calicoResources[i].gvr] {
			out = append(out, &calicoResources[i])
		}
	}
	return out, nil
}

// startCalico starts informers for the served kinds not yet watched.
func (s *Source) startCalico(ctx context.Context, f dynamicinformer.DynamicSharedInformerFactory, served []*resource) []watched {
	var out []watched
	var names []string
	for _, res := range served {
		if s.calicoStarted[res.name] {
			continue
		}
		inf := f.ForResource(res.gvr).Informer()
		if err := inf.SetTransform(trim); err != nil {
			s.log.WithError(err).WithField("resource", res.name).Warn("informer without trimming")
		}
		out = append(out, s.handle(res, inf))
		s.calicoStarted[res.name] = true
		names = append(names, res.name)
	}
	if len(names) > 0 {
		f.Start(ctx.Done())
	}
	var missing []string
	for _, r := range calicoResources {
		if !s.calicoStarted[r.name] {
			missing = append(missing, r.gvr.Resource)
		}
	}
	sort.Strings(missing)
	if len(names) > 0 || len(missing) > 0 && len(s.calicoStarted) == 0 {
		fields := logrus.Fields{"watching": strings.Join(names, ",")}
		if len(missing) > 0 {
			fields["notServed"] = strings.Join(missing, ",")
		}
		s.log.WithFields(fields).Info("projectcalico.org/v3 and policy.networking.k8s.io kinds (kubectl apply -k deploy/kubernetes serves them)")
	}
	return out
}

func (s *Source) nodeEvent(o any, present bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	s.reporter.setNode(n.Name, present)
	if !s.cfg.AutoHostEndpoints {
		return
	}
	if !present {
		s.store.remove(&resNodes, n)
		return
	}
	js, err := autoHostEndpoint(n)
	if err != nil {
		s.log.WithError(err).Warn("no automatic host endpoint")
		return
	}
	s.store.put(&resNodes, n.Name, js, corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion})
}

// ErrNoNodeName is returned by CheckConfig when the node name is missing.
var ErrNoNodeName = errors.New("the node name is required (--node-name, NODE_NAME or the config's node)")

// CheckConfig validates cfg before an agent commits to it.
func CheckConfig(cfg Config) error {
	if cfg.NodeName == "" {
		return ErrNoNodeName
	}
	return nil
}
