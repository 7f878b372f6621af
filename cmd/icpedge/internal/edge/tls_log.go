package edge

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns a zap logger for certmagic that writes to logger.
// certmagic narrates every step at info level; that goes to debug here.
// Its warnings and errors keep their level, except those about a failed
// issuance or renewal, which acmeCerts.onEvent already reports in one
// line with advice: those go to debug too, so each failure is one line
// at the default level and the whole story at debug.
func newZapLogger(logger *slog.Logger) *zap.Logger {
	return zap.New(&slogCore{h: logger.Handler(), name: "certmagic"})
}

// summarizedMessages are certmagic's (and its ACME client's) error lines
// about an attempt that failed at the CA; cert_failed covers each.
var summarizedMessages = []string{
	"could not get certificate from issuer",
	"will retry",
	"final attempt; giving up",
	"validating authorization",
	"challenge failed",
	"HTTP request failed; retrying",
}

// slogCore is a zapcore.Core that writes to an slog.Handler.
type slogCore struct {
	h     slog.Handler
	name  string
	attrs []slog.Attr
}

func (c *slogCore) Enabled(zapcore.Level) bool { return true }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h, name: c.name, attrs: append(slices.Clip(c.attrs), fieldAttrs(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	// Write may only lower the level, so this is the most it can need.
	if c.h.Enabled(context.Background(), slogLevel(e.Level)) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slogLevel(e.Level)
	if level > slog.LevelDebug && demoted(e, fields) {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !c.h.Enabled(ctx, level) {
		return nil
	}
	r := slog.NewRecord(e.Time, level, e.Message, 0)
	name := c.name
	if n := strings.Trim(e.LoggerName, "."); n != "" {
		name += "." + n
	}
	r.AddAttrs(slog.String("component", name))
	r.AddAttrs(c.attrs...)
	r.AddAttrs(fieldAttrs(fields)...)
	return c.h.Handle(ctx, r)
}

func (c *slogCore) Sync() error { return nil }

// slogLevel maps certmagic's levels: its info is a narration of routine
// steps, so it becomes debug.
func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

// demoted reports whether an entry repeats what onEvent reports, or is
// about work cancelled on purpose (shutdown, or a retry on SIGHUP).
func demoted(e zapcore.Entry, fields []zapcore.Field) bool {
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType && errors.Is(err, context.Canceled) {
			return true
		}
	}
	if slices.Contains(summarizedMessages, e.Message) {
		return true
	}
	// A background job's error wraps the failed attempt's.
	if e.Message == "job failed" {
		for _, f := range fields {
			if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
				s := err.Error()
				return strings.Contains(s, "obtaining certificate") || strings.Contains(s, "renewing certificate")
			}
		}
	}
	return false
}

// fieldAttrs converts zap fields to slog attributes.
func fieldAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for _, f := range fields { // in the order given, not the map's
		if v, ok := enc.Fields[f.Key]; ok {
			attrs = append(attrs, slog.Any(f.Key, v))
			delete(enc.Fields, f.Key)
		}
	}
	return attrs
}
