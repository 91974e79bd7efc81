package storage

import (
	"context"
	"log/slog"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcd's server and client log through zap. zapLogger routes that into the
// project's slog logger, dropping entries below minLevel, so etcd's chatter
// shares one sink and format with the rest of skiff.
func zapLogger(log *slog.Logger, minLevel zapcore.Level) *zap.Logger {
	return zap.New(&slogCore{handler: log.Handler(), minLevel: minLevel})
}

// slogCore is a zapcore.Core that writes to a slog.Handler.
type slogCore struct {
	handler  slog.Handler
	minLevel zapcore.Level
}

var _ zapcore.Core = (*slogCore)(nil)

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= c.minLevel && c.handler.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{handler: c.handler.WithAttrs(slogAttrs(fields)), minLevel: c.minLevel}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slogLevel(e.Level)
	if benign(e.Message, fields) {
		level = slog.LevelDebug
		if !c.handler.Enabled(context.Background(), level) {
			return nil
		}
	}
	r := slog.NewRecord(e.Time, level, e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(slogAttrs(fields)...)
	return c.handler.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

// slogLevel maps zap's levels onto slog's; DPanic and above are errors.
func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l < zapcore.InfoLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// slogAttrs renders zap fields through zap's map encoder, sorted by key.
func slogAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	return attrs
}

// benign reports etcd errors that are part of a normal life: the storage
// version check racing the first leader term at start, and listeners
// reporting they were closed at shutdown. They are logged at debug level.
func benign(msg string, fields []zapcore.Field) bool {
	switch msg {
	case "failed to update storage version":
		return true
	case "setting up serving from embedded etcd failed.", "serving client traffic insecurely; this is strongly discouraged!":
		for _, f := range fields {
			if f.Type == zapcore.ErrorType {
				if err, ok := f.Interface.(error); ok && strings.Contains(err.Error(), "closed") {
					return true
				}
			}
		}
	}
	return false
}
