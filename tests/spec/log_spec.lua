-- isync.log.clean: registry-provided text made safe for a terminal, one line.
local log = require "isync.log"

describe("isync.log.clean", function()
  it("keeps plain text and valid UTF-8 as is", function()
    assert.equal("copied a/b:v1 -> c/d:v1", log.clean("copied a/b:v1 -> c/d:v1"))
    assert.equal("café € 😀", log.clean("café € 😀"))
  end)

  it("turns C0 controls and DEL into ? and line breaks into spaces", function()
    assert.equal("a?[31mred?[0m", log.clean("a\27[31mred\27[0m"))
    assert.equal("bell? del? nul?", log.clean("bell\7 del\127 nul\0"))
    assert.equal("one line  really", log.clean("one\nline\r\treally"))
  end)

  it("turns C1 controls (as UTF-8) and invalid bytes into ?", function()
    assert.equal("csi?31m", log.clean("csi\194\15531m"))
    assert.equal("raw??", log.clean("raw\155\255"))
    assert.equal("surrogate???", log.clean("surrogate\237\160\128"))
    assert.equal("cut??", log.clean("cut\226\130"))
  end)

  it("cleans what a log writes", function()
    local path = os.tmpname()
    local l = log.new { file = path }
    l:error("FAILED x: registry said \27]0;owned\7")
    l:close()
    local f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.matches("FAILED x: registry said %?%]0;owned%?\n$", text)
    assert.is_nil(text:find("\27", 1, true))
  end)
end)
