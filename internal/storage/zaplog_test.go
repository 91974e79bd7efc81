package storage

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestZapLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lg := zapLogger(log, zapcore.WarnLevel).Named("raft").With(zap.String("member", "m1"))
	lg.Info("dropped")
	lg.Warn("slow apply", zap.Duration("took", 2e9), zap.Error(errors.New("disk")))
	out := buf.String()
	if strings.Contains(out, "dropped") {
		t.Errorf("info passed a warn-level logger: %s", out)
	}
	for _, want := range []string{"level=WARN", `msg="slow apply"`, "member=m1", "logger=raft", "took=2s", "error=disk"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
}
