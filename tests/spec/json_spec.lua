local json = require "isync.json"

describe("isync.json", function()
  -- why isync.json is the one decoder of the Lua side (its header): lua-cjson 2.1 gives {}
  -- for both [] and {}, and floats for every number (9007199254740993 comes back ...992)
  it("decodes what lua-cjson could not", function()
    local doc = assert(json.decode('{"a":[],"o":{},"size":9007199254740993,"n":1,"x":null}'))
    assert.equal(json.array_mt, getmetatable(doc.a))
    assert.is_nil(getmetatable(doc.o))
    assert.equal('{"a":[],"n":1,"o":{},"size":9007199254740993,"x":null}', json.encode(doc))
    assert.equal(9007199254740993, doc.size)
    assert.equal("integer", math.type(doc.size))
    assert.equal("integer", math.type(doc.n))
    assert.equal(json.null, doc.x)
  end)

  it("round-trips arrays, objects, empty ones and numbers deterministically", function()
    local text = '{"b":[],"a":{},"n":1,"f":1.5,"s":"x/y\\n\\u00e9","t":true,"z":null,"l":[1,{"k":[]}]}'
    local v = assert(json.decode(text))
    assert.equal(json.null, v.z)
    assert.equal(1, v.n)
    assert.equal("integer", math.type(v.n))
    assert.equal("x/y\né", v.s)
    assert.equal('{"a":{},"b":[],"f":1.5,"l":[1,{"k":[]}],"n":1,"s":"x/y\\né","t":true,"z":null}', json.encode(v))
    assert.equal(json.encode(v), json.encode(assert(json.decode(json.encode(v, "  ")))))
  end)

  it("decodes surrogate pairs and rejects malformed text", function()
    assert.equal("😀", json.decode('"\\ud83d\\ude00"'))
    for _, bad in ipairs { "{", '{"a"}', "[1,]", '"\1"', "tru", "{} x", '{"a":1,}' } do
      local v, err = json.decode(bad)
      assert.is_nil(v, bad)
      assert.matches("json:", err)
    end
  end)

  it("pretty-prints with sorted keys", function()
    assert.equal('{\n  "a": [\n    1,\n    2\n  ],\n  "b": "c"\n}', json.encode({ b = "c", a = { 1, 2 } }, "  "))
  end)
end)
