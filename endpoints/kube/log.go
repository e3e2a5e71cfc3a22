package kube

import (
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

var klogOnce sync.Once

// routeKlog sends client-go's logging (klog) to logrus, so that the agent
// logs in one format (text or JSON) and at one level setting. klog's
// verbose levels are debug; its errors (a watch that failed, the API server
// unreachable) are warnings, because client-go retries them itself.
func routeKlog() {
	klogOnce.Do(func() {
		klog.SetLogger(logr.New(&klogSink{entry: logrus.WithField("source", "client-go")}))
	})
}

type klogSink struct {
	entry *logrus.Entry
}

// Init implements logr.LogSink.
func (s *klogSink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink: klog's level 0 is info, anything more
// verbose is debug.
func (s *klogSink) Enabled(level int) bool {
	if level == 0 {
		return s.entry.Logger.IsLevelEnabled(logrus.InfoLevel)
	}
	return level <= 4 && s.entry.Logger.IsLevelEnabled(logrus.DebugLevel)
}

// Info implements logr.LogSink.
func (s *klogSink) Info(level int, msg string, kv ...any) {
	if level == 0 {
		s.with(kv).Info(msg)
		return
	}
	s.with(kv).Debug(msg)
}

// Error implements logr.LogSink.
func (s *klogSink) Error(err error, msg string, kv ...any) {
	s.with(kv).WithError(err).Warn(msg)
}

// WithValues implements logr.LogSink.
func (s *klogSink) WithValues(kv ...any) logr.LogSink {
	return &klogSink{entry: s.with(kv)}
}

// WithName implements logr.LogSink.
func (s *klogSink) WithName(name string) logr.LogSink {
	return &klogSink{entry: s.entry.WithField("logger", name)}
}

func (s *klogSink) with(kv []any) *logrus.Entry {
	if len(kv) == 0 {
		return s.entry
	}
	f := logrus.Fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return s.entry.WithFields(f)
}
