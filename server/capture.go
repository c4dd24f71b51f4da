package server

import (
	"io"
	"net"

	"github.com/tidwall/redcon"
)

// captured is a redcon.Conn that keeps what a command writes instead of
// sending it: the replies of a forwarded request go back to the node that
// sent it (primary.go). It has no socket; the methods of a real
// connection that do not write answer as a connection already closed.
type captured struct {
	buf    []byte
	ctx    any
	closed bool
}

var _ redcon.Conn = (*captured)(nil)

func (c *captured) RemoteAddr() string          { return "" }
func (c *captured) Close() error                { c.closed = true; return nil }
func (c *captured) WriteError(msg string)       { c.buf = redcon.AppendError(c.buf, msg) }
func (c *captured) WriteString(str string)      { c.buf = redcon.AppendString(c.buf, str) }
func (c *captured) WriteBulk(bulk []byte)       { c.buf = redcon.AppendBulk(c.buf, bulk) }
func (c *captured) WriteBulkString(bulk string) { c.buf = redcon.AppendBulkString(c.buf, bulk) }
func (c *captured) WriteInt(num int)            { c.buf = redcon.AppendInt(c.buf, int64(num)) }
func (c *captured) WriteInt64(num int64)        { c.buf = redcon.AppendInt(c.buf, num) }
func (c *captured) WriteUint64(num uint64)      { c.buf = redcon.AppendUint(c.buf, num) }
func (c *captured) WriteArray(count int)        { c.buf = redcon.AppendArray(c.buf, count) }
func (c *captured) WriteNull()                  { c.buf = redcon.AppendNull(c.buf) }
func (c *captured) WriteRaw(data []byte)        { c.buf = append(c.buf, data...) }
func (c *captured) WriteAny(v any)              { c.buf = redcon.AppendAny(c.buf, v) }
func (c *captured) Context() any                { return c.ctx }
func (c *captured) SetContext(v any)            { c.ctx = v }
func (c *captured) SetReadBuffer(int)           {}
func (c *captured) Detach() redcon.DetachedConn { return nil }
func (c *captured) ReadPipeline() []redcon.Command {
	return nil
}
func (c *captured) PeekPipeline() []redcon.Command { return nil }
func (c *captured) NetConn() net.Conn              { return nil }
func (c *captured) WriteBulkFrom(n int64, rb io.Reader) {
	b := make([]byte, n)
	_, _ = io.ReadFull(rb, b)
	c.buf = redcon.AppendBulk(c.buf, b)
}
