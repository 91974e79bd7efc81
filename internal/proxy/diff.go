package proxy

import (
	"slices"

	"sigs.k8s.io/knftables"
)

// compatible reports whether next can be reached from prev by changing
// rules and elements only. A chain, set or map present in both with a
// different declaration (hook, type, timeout) needs the table replaced;
// that happens only when a Service's session-affinity timeout changes.
func compatible(prev, next *Ruleset) bool {
	for name, c := range next.Chains {
		if old, ok := prev.Chains[name]; ok && !old.sameHook(c) {
			return false
		}
	}
	for name, s := range next.Sets {
		if old, ok := prev.Sets[name]; ok && !old.sameDefinition(s) {
			return false
		}
	}
	for name, m := range next.Maps {
		if old, ok := prev.Maps[name]; ok && old.Type != m.Type {
			return false
		}
	}
	return true
}

// writeDiff adds to tx the commands that turn prev into next, ordered so
// that every reference resolves at each step: new objects first, then
// rewritten chains, then elements, and last the objects nothing refers
// to any more. A chain whose rules changed is flushed and refilled (a
// service chain is a few rules; its endpoints are chains of their own),
// so one endpoint coming or going touches that endpoint's chain, its
// service's chains, and nothing else.
func writeDiff(tx *knftables.Transaction, prev, next *Ruleset) {
	for _, name := range sortedKeys(next.Sets) {
		if prev.Sets[name] == nil {
			tx.Add(setObject(next.Sets[name]))
		}
	}
	for _, name := range sortedKeys(next.Maps) {
		if prev.Maps[name] == nil {
			tx.Add(&knftables.Map{Name: name, Type: next.Maps[name].Type})
		}
	}
	for _, name := range sortedKeys(next.Chains) {
		if prev.Chains[name] == nil {
			tx.Add(chainObject(next.Chains[name]))
		}
	}
	for _, name := range sortedKeys(next.Chains) {
		c, old := next.Chains[name], prev.Chains[name]
		switch {
		case old == nil:
			addRules(tx, c)
		case !slices.Equal(old.Rules, c.Rules):
			tx.Flush(&knftables.Chain{Name: name})
			addRules(tx, c)
		}
	}

	for _, name := range sortedKeys(next.Sets) {
		s, old := next.Sets[name], prev.Sets[name]
		if s.Dynamic {
			continue // the packet path owns its elements
		}
		if old != nil {
			for _, key := range sortedKeys(old.Elements) {
				if !s.Elements[key] {
					tx.Delete(&knftables.Element{Set: name, Key: splitKey(key)})
				}
			}
		}
		for _, key := range sortedKeys(s.Elements) {
			if old == nil || !old.Elements[key] {
				tx.Add(&knftables.Element{Set: name, Key: splitKey(key)})
			}
		}
	}
	for _, name := range sortedKeys(next.Maps) {
		m, old := next.Maps[name], prev.Maps[name]
		var oldElems map[string]string
		if old != nil {
			oldElems = old.Elements
		}
		for _, key := range sortedKeys(oldElems) {
			if v, ok := m.Elements[key]; !ok || v != oldElems[key] {
				tx.Delete(&knftables.Element{Map: name, Key: splitKey(key)})
			}
		}
		for _, key := range sortedKeys(m.Elements) {
			if v, ok := oldElems[key]; !ok || v != m.Elements[key] {
				tx.Add(&knftables.Element{Map: name, Key: splitKey(key), Value: []string{m.Elements[key]}})
			}
		}
	}

	// Removed chains may refer to each other (service → endpoint), so
	// all are emptied before any is deleted; the affinity sets their
	// rules used go after them.
	var gone []string
	for _, name := range sortedKeys(prev.Chains) {
		if next.Chains[name] == nil {
			gone = append(gone, name)
			tx.Flush(&knftables.Chain{Name: name})
		}
	}
	for _, name := range gone {
		tx.Delete(&knftables.Chain{Name: name})
	}
	for _, name := range sortedKeys(prev.Sets) {
		if next.Sets[name] == nil {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	for _, name := range sortedKeys(prev.Maps) {
		if next.Maps[name] == nil {
			tx.Delete(&knftables.Map{Name: name})
		}
	}
}
