package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Column is one column of a table and the value a row gives it: declared
// together, so an insert's column list and its values cannot drift apart.
type Column[R any] struct {
	Name  string
	Value func(*R) any
}

// Col declares a column.
func Col[R any](name string, value func(*R) any) Column[R] {
	return Column[R]{Name: name, Value: value}
}

// Table is the insert of one table: its columns (each with its value) in
// the order of the explicit column list every insert carries (old servers
// need it, see DESIGN).
type Table[R any] struct {
	Name    string
	Columns []Column[R]
	stmt    string
}

// NewTable declares a table's insert.
func NewTable[R any](name string, cols ...Column[R]) *Table[R] {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return &Table[R]{Name: name, Columns: cols, stmt: InsertStmt(name, names)}
}

// ColumnNames lists the columns in insert order.
func (t *Table[R]) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// InsertSQL is the insert statement.
func (t *Table[R]) InsertSQL() string { return t.stmt }

// Insert writes rows in one batch (one attempt).
func (t *Table[R]) Insert(ctx context.Context, conn driver.Conn, rows []R) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, t.stmt)
	if err != nil {
		return fmt.Errorf("cannot prepare %s insert: %w", t.Name, err)
	}
	vals := make([]any, len(t.Columns))
	for i := range rows {
		for j, c := range t.Columns {
			vals[j] = c.Value(&rows[i])
		}
		if err := b.Append(vals...); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to %s batch: %w", t.Name, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into %s: %w", len(rows), t.Name, err)
	}
	return nil
}
