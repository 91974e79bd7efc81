package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// maxRecordBytes bounds one record of a log file. Runtimes split output
// into records of at most 16 KiB; a longer "record" is not a CRI log, and
// is dropped rather than buffered without end.
const maxRecordBytes = 1 << 20

// recordReader reads whole records from a log file that may still grow:
// a record whose newline has not been written yet stays buffered until it
// has.
type recordReader struct {
	br    *bufio.Reader
	carry []byte
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next whole record (its newline included), or io.EOF
// when no whole record is available yet. The returned slice is the
// caller's.
func (r *recordReader) next() ([]byte, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			if len(r.carry) == 0 {
				return append([]byte(nil), line...), nil
			}
			rec := append(r.carry, line...)
			r.carry = nil
			if len(rec) > maxRecordBytes {
				continue
			}
			return rec, nil
		case errors.Is(err, bufio.ErrBufferFull), errors.Is(err, io.EOF):
			if len(r.carry)+len(line) <= maxRecordBytes {
				r.carry = append(r.carry, line...)
			} else {
				r.carry = r.carry[:0:0] // too long: drop it, resync at the next newline
			}
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
	}
}

// logCopy copies one container's CRI log file to a client.
type logCopy struct {
	// file is the open log, and path where it was opened (to notice
	// rotation); run closes file.
	file *os.File
	path string
	opts LogOptions
	// running reports whether the container still runs; following stops
	// once it does not and the file is drained.
	running func(context.Context) bool
	// poll is how often a followed log is checked for growth (default
	// 100ms).
	poll time.Duration
}

// run writes the log to w. It returns nil when the log is copied, the
// byte limit is reached, the followed container stops, or ctx ends (the
// client went away).
func (c *logCopy) run(ctx context.Context, w io.Writer) error {
	err := c.copy(ctx, w)
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

func (c *logCopy) copy(ctx context.Context, w io.Writer) error {
	f := c.file
	defer func() { _ = f.Close() }()
	em := newLogEmitter(w, c.opts)
	var asm lineAssembler
	rr := newRecordReader(f)

	// The log written so far: everything, or its last TailLines lines.
	ring := tailRing{n: c.opts.TailLines}
	keep := func(l logLine) error {
		if c.opts.TailLines >= 0 {
			ring.add(l)
			return nil
		}
		return em.emit(l)
	}
	if err := readRecords(rr, &asm, keep); err != nil {
		return err
	}
	if !c.opts.Follow {
		for _, l := range asm.flush() {
			if err := keep(l); err != nil {
				return err
			}
		}
	}
	for _, l := range ring.ordered() {
		if err := em.emit(l); err != nil {
			return err
		}
	}
	if !c.opts.Follow {
		return nil
	}
	em.flush()
	return c.follow(ctx, f, rr, &asm, em)
}

// follow emits records as they are written until the container stops or
// ctx ends. A log rotated by renaming it and starting a new file at the
// same path is followed into the new file.
func (c *logCopy) follow(ctx context.Context, f *os.File, rr *recordReader, asm *lineAssembler, em *logEmitter) error {
	poll := c.poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		if err := readRecords(rr, asm, em.emit); err != nil {
			return err
		}
		em.flush()
		if ctx.Err() != nil {
			return nil
		}
		if next, ok := reopenIfRotated(c.path, f); ok {
			// The old file is drained; go on with the new one.
			_ = f.Close()
			f, rr = next, newRecordReader(next)
			defer func(f *os.File) { _ = f.Close() }(f)
			continue
		}
		if !c.running(ctx) {
			// Records written just before the exit.
			if err := readRecords(rr, asm, em.emit); err != nil {
				return err
			}
			for _, l := range asm.flush() {
				if err := em.emit(l); err != nil {
					return err
				}
			}
			em.flush()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// readRecords emits every whole line available now. Records that do not
// parse are skipped, as the kubelet does.
func readRecords(rr *recordReader, asm *lineAssembler, emit func(logLine) error) error {
	for {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		e, err := parseCRILogLine(rec)
		if err != nil {
			continue
		}
		if l, ok := asm.add(e); ok {
			if err := emit(l); err != nil {
				return err
			}
		}
	}
}

// reopenIfRotated opens the file now at path when it is not f any more.
func reopenIfRotated(path string, f *os.File) (*os.File, bool) {
	cur, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	old, err := f.Stat()
	if err != nil || os.SameFile(cur, old) {
		return nil, false
	}
	next, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	return next, true
}
