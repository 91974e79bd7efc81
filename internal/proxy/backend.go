package proxy

import (
	"context"
	"strings"

	"sigs.k8s.io/knftables"
)

// backend keeps one knftables table equal to the Rulesets it is given.
// It is not safe for concurrent use; the Proxy's sync loop owns it.
type backend struct {
	nft knftables.Interface
	// applied is what the kernel holds, as far as the backend knows; nil
	// (at start, or after a failed transaction) forces a full resync.
	applied *Ruleset
}

// syncStats says what one apply did.
type syncStats struct {
	Full       bool
	Operations int // nft commands in the transaction (0: nothing changed)
}

// apply makes the table hold rs, in one transaction. The first call, and
// any call after a failure, replaces the whole table; later calls change
// only the chains and elements that differ from the previous Ruleset.
// rs must not be modified afterwards: the backend keeps it.
func (b *backend) apply(ctx context.Context, rs *Ruleset) (syncStats, error) {
	tx := b.nft.NewTransaction()
	full := b.applied == nil || !compatible(b.applied, rs)
	if full {
		writeFull(tx, rs)
	} else {
		writeDiff(tx, b.applied, rs)
	}
	st := syncStats{Full: full, Operations: tx.NumOperations()}
	if st.Operations == 0 {
		b.applied = rs
		return st, nil
	}
	if err := b.nft.Run(ctx, tx); err != nil {
		b.applied = nil
		return st, err
	}
	b.applied = rs
	return st, nil
}

// forceFull makes the next apply replace the table.
func (b *backend) forceFull() { b.applied = nil }

// deleteTable removes the table; a missing table is not an error.
func deleteTable(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	// add-then-delete: deleting succeeds whether or not it existed, and
	// works with nft releases older than `destroy`.
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	return nft.Run(ctx, tx)
}

// writeFull replaces the table: everything in one transaction, so
// packets see either the old table or the new one.
func writeFull(tx *knftables.Transaction, rs *Ruleset) {
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff service proxy")})
	for _, name := range sortedKeys(rs.Chains) {
		tx.Add(chainObject(rs.Chains[name]))
	}
	for _, name := range sortedKeys(rs.Sets) {
		tx.Add(setObject(rs.Sets[name]))
	}
	for _, name := range sortedKeys(rs.Maps) {
		tx.Add(&knftables.Map{Name: name, Type: rs.Maps[name].Type})
	}
	for _, name := range sortedKeys(rs.Chains) {
		addRules(tx, rs.Chains[name])
	}
	for _, name := range sortedKeys(rs.Sets) {
		for _, key := range sortedKeys(rs.Sets[name].Elements) {
			tx.Add(&knftables.Element{Set: name, Key: splitKey(key)})
		}
	}
	for _, name := range sortedKeys(rs.Maps) {
		m := rs.Maps[name]
		for _, key := range sortedKeys(m.Elements) {
			tx.Add(&knftables.Element{Map: name, Key: splitKey(key), Value: []string{m.Elements[key]}})
		}
	}
}

func chainObject(c *Chain) *knftables.Chain {
	obj := &knftables.Chain{Name: c.Name}
	if c.Hook != nil {
		obj.Type = knftables.PtrTo(knftables.BaseChainType(c.Hook.Type))
		obj.Hook = knftables.PtrTo(knftables.BaseChainHook(c.Hook.Hook))
		obj.Priority = knftables.PtrTo(knftables.BaseChainPriority(c.Hook.Priority))
	}
	return obj
}

func setObject(s *Set) *knftables.Set {
	obj := &knftables.Set{Name: s.Name, Type: s.Type}
	if s.Dynamic {
		obj.Flags = []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag}
		obj.Timeout = knftables.PtrTo(s.Timeout)
	}
	return obj
}

func addRules(tx *knftables.Transaction, c *Chain) {
	for _, r := range c.Rules {
		tx.Add(&knftables.Rule{Chain: c.Name, Rule: r})
	}
}

func splitKey(key string) []string { return strings.Split(key, " . ") }
