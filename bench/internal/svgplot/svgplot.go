// Package svgplot draws the benchmark report's charts as standalone SVG:
// line charts (optionally log-scaled on either axis), step CDFs and
// grouped bar charts, with axes, ticks, labels and a legend. It has no
// dependencies and its output is a pure function of its input, so a
// report regenerated from the same JSON is byte-identical.
package svgplot

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Series is one named line: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
}

// Chart is a line chart. Step draws each series as a staircase (a CDF).
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Step                  bool
	Series                []Series
}

// Bar is a grouped bar chart: one group per category, one bar per series
// (Series[i].Y[j] is series i in category j; X is ignored).
type Bar struct {
	Title, YLabel string
	Categories    []string
	Series        []Series
	LogY          bool
}

const (
	width, height          = 720, 420
	left, right, top, bott = 80, 180, 40, 60
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// CDF turns samples into a cumulative distribution series (x = value,
// y = fraction ≤ x, in percent). samples is not modified.
func CDF(name string, samples []float64) Series {
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	out := Series{Name: name}
	for i, v := range s {
		out.X = append(out.X, v)
		out.Y = append(out.Y, 100*float64(i+1)/float64(len(s)))
	}
	return out
}

// axis maps data values to pixels along one dimension.
type axis struct {
	lo, hi   float64
	log      bool
	px0, px1 float64
}

func (a axis) pos(v float64) float64 {
	f := func(x float64) float64 {
		if a.log {
			return math.Log10(math.Max(x, 1e-12))
		}
		return x
	}
	lo, hi := f(a.lo), f(a.hi)
	if hi == lo {
		return (a.px0 + a.px1) / 2
	}
	return a.px0 + (f(v)-lo)/(hi-lo)*(a.px1-a.px0)
}

// ticks returns "nice" tick values covering [lo, hi] and may widen them.
func (a *axis) ticks() []float64 {
	if a.log {
		lo := math.Floor(math.Log10(math.Max(a.lo, 1e-12)))
		hi := math.Ceil(math.Log10(math.Max(a.hi, 1e-12)))
		if hi == lo {
			hi++
		}
		a.lo, a.hi = math.Pow(10, lo), math.Pow(10, hi)
		var t []float64
		for e := lo; e <= hi; e++ {
			t = append(t, math.Pow(10, e))
		}
		return t
	}
	if a.hi == a.lo {
		a.hi = a.lo + 1
	}
	raw := (a.hi - a.lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	a.lo = math.Floor(a.lo/step) * step
	a.hi = math.Ceil(a.hi/step) * step
	var t []float64
	for v := a.lo; v <= a.hi+step/2; v += step {
		t = append(t, v)
	}
	return t
}

// Num formats a tick or value compactly (1.5k, 20, 0.25).
func Num(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case av >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	case av == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

type canvas struct{ b strings.Builder }

func (c *canvas) f(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

func header(title string) *canvas {
	c := &canvas{}
	c.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	c.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	c.f(`<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	return c
}

func (c *canvas) frame(x, y axis, xt, yt []float64, xl, yl string, xLabels []string) {
	x0, x1, y0, y1 := x.px0, x.px1, y.px0, y.px1
	for _, t := range yt {
		p := y.pos(t)
		c.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, p, x1, p)
		c.f(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, p+4, Num(t))
	}
	for i, t := range xt {
		p := x.pos(t)
		label := Num(t)
		if xLabels != nil {
			label = xLabels[i]
		} else {
			c.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", p, y0, p, y1)
		}
		c.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", p, y0, p, y0+5)
		c.f(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", p, y0+18, html.EscapeString(label))
	}
	c.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x1, y0)
	c.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x0, y1)
	c.f(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, height-14, html.EscapeString(xl))
	c.f(`<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (y0+y1)/2, html.EscapeString(yl))
}

func (c *canvas) legend(names []string) {
	for i, n := range names {
		y := top + 10 + i*20
		c.f(`<rect x="%d" y="%d" width="14" height="10" fill="%s"/>`+"\n", width-right+16, y-9, palette[i%len(palette)])
		c.f(`<text x="%d" y="%d">%s</text>`+"\n", width-right+36, y, html.EscapeString(n))
	}
}

func (c *canvas) end() []byte {
	c.f("</svg>\n")
	return []byte(c.b.String())
}

// SVG renders the chart.
func (ch Chart) SVG() []byte {
	c := header(ch.Title)
	x := axis{lo: math.Inf(1), hi: math.Inf(-1), log: ch.LogX, px0: left, px1: width - right}
	y := axis{lo: math.Inf(1), hi: math.Inf(-1), log: ch.LogY, px0: height - bott, px1: top}
	for _, s := range ch.Series {
		for i := range s.X {
			x.lo, x.hi = math.Min(x.lo, s.X[i]), math.Max(x.hi, s.X[i])
			y.lo, y.hi = math.Min(y.lo, s.Y[i]), math.Max(y.hi, s.Y[i])
		}
	}
	if math.IsInf(x.lo, 1) {
		x.lo, x.hi, y.lo, y.hi = 0, 1, 0, 1
	}
	if !ch.LogY && y.lo > 0 {
		y.lo = 0
	}
	xt, yt := x.ticks(), y.ticks()
	c.frame(x, y, xt, yt, ch.XLabel, ch.YLabel, nil)
	var names []string
	for i, s := range ch.Series {
		color := palette[i%len(palette)]
		var pts []string
		for j := range s.X {
			px, py := x.pos(s.X[j]), y.pos(s.Y[j])
			if ch.Step && j > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, y.pos(s.Y[j-1])))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
		}
		c.f(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		if !ch.Step {
			for j := range s.X {
				c.f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x.pos(s.X[j]), y.pos(s.Y[j]), color)
			}
		}
		names = append(names, s.Name)
	}
	c.legend(names)
	return c.end()
}

// SVG renders the bar chart.
func (b Bar) SVG() []byte {
	c := header(b.Title)
	y := axis{lo: math.Inf(1), hi: math.Inf(-1), log: b.LogY, px0: height - bott, px1: top}
	for _, s := range b.Series {
		for _, v := range s.Y {
			y.lo, y.hi = math.Min(y.lo, v), math.Max(y.hi, v)
		}
	}
	if math.IsInf(y.lo, 1) {
		y.lo, y.hi = 0, 1
	}
	if !b.LogY {
		y.lo = 0
	}
	yt := y.ticks()
	n := float64(len(b.Categories))
	x := axis{lo: -0.5, hi: n - 0.5, px0: left, px1: width - right}
	var xt []float64
	for i := range b.Categories {
		xt = append(xt, float64(i))
	}
	c.frame(x, y, xt, yt, "", b.YLabel, b.Categories)
	groupW := (x.px1 - x.px0) / math.Max(n, 1) * 0.8
	barW := groupW / math.Max(float64(len(b.Series)), 1)
	var names []string
	for i, s := range b.Series {
		for j, v := range s.Y {
			if j >= len(b.Categories) || math.IsNaN(v) {
				continue
			}
			px := x.pos(float64(j)) - groupW/2 + float64(i)*barW
			base := y.pos(y.lo)
			top := y.pos(v)
			c.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				px, top, barW-2, base-top, palette[i%len(palette)], html.EscapeString(s.Name+": "+Num(v)))
			c.f(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", px+barW/2-1, top-3, Num(v))
		}
		names = append(names, s.Name)
	}
	c.legend(names)
	return c.end()
}
