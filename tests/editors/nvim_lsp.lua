-- Drives envls from a real Neovim (Debian bookworm's 0.7.2 and later), headless:
--
--   nvim --headless -u NONE -i NONE -n -c "luafile tests/editors/nvim_lsp.lua"
--
-- Neovim 0.7 has no `vim.lsp.start` and no `nvim -l`, so this uses `vim.lsp.start_client`
-- + `vim.lsp.buf_attach_client` and is run through `-c luafile`.
--
-- Input (environment variables):
--   ENVLS_SERVER_CMD   the server command as a JSON list, e.g. ["/venv/bin/python", "-m", "envls", "serve"]
--   ENVLS_FILE         the environment.yml to open (see tests/test_editors.py for its exact content)
--   ENVLS_FRESH_FILE   a second environment file that has only `name:` and an empty line (for completion)
--   ENVLS_OUT          where to write the results, as JSON
--   ENVLS_TIMEOUT_MS   the bound for each wait (default 20000)
--
-- Steps: open (push diagnostics), completion on an empty line, hover on a key, edits through
-- nvim_buf_set_lines / nvim_buf_set_text (incremental didChange), a quick fix applied by nvim,
-- completion in a second file, then stop (shutdown + exit) and the server's exit status.
-- Columns: `diagnostics` are vim.diagnostic's (byte columns); `published.diagnostics` are the raw
-- LSP ranges the server sent (UTF-16 code units with nvim 0.7).
--
-- Every step records what it saw in `result`; the Python test makes the assertions. The script
-- never blocks for longer than ENVLS_TIMEOUT_MS per wait, and it always writes ENVLS_OUT
-- (with `error` set when a step blew up) before it quits.

local out = assert(os.getenv("ENVLS_OUT"), "ENVLS_OUT is not set")
local timeout = tonumber(os.getenv("ENVLS_TIMEOUT_MS") or "") or 20000

local result = { nvim_version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor)
                 .. "." .. tostring(vim.version().patch), messages = {}, steps = {} }

local function now_ms() return vim.loop.hrtime() / 1e6 end

-- vim.wait with a bound; returns (ok, elapsed ms)
local function wait_for(predicate, ms)
  local t0 = now_ms()
  local ok = vim.wait(ms or timeout, predicate, 10)
  return ok, math.floor(now_ms() - t0 + 0.5)
end

-- the version nvim sends with didOpen/didChange (0.7: vim.lsp.util.buf_versions; later: changedtick)
local function buffer_version(bufnr)
  local versions = vim.lsp.util.buf_versions
  return (versions and versions[bufnr]) or vim.api.nvim_buf_get_changedtick(bufnr)
end

local function active_clients()
  return (vim.lsp.get_clients or vim.lsp.get_active_clients)()
end

local function diagnostics_of(bufnr)
  local list = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(list, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, code = d.code, source = d.source, message = d.message,
    })
  end
  table.sort(list, function(a, b)
    if a.lnum ~= b.lnum then return a.lnum < b.lnum end
    return a.col < b.col
  end)
  return list
end

local function request(bufnr, method, params)
  local t0 = now_ms()
  local responses, err = vim.lsp.buf_request_sync(bufnr, method, params, timeout)
  local entry = { method = method, ms = math.floor(now_ms() - t0 + 0.5) }
  if responses == nil then -- a timeout: stop here rather than let every later step wait as long
    error(string.format("%s: no response within %d ms (%s)", method, timeout, tostring(err)))
  end
  for _, r in pairs(responses) do
    if r.err then entry.error = vim.inspect(r.err) end
    entry.result = r.result
  end
  return entry
end

local function completion_labels(entry)
  local labels = {}
  local items = entry.result
  if type(items) == "table" and items.items then items = items.items end
  for _, item in ipairs(items or {}) do table.insert(labels, item.label) end
  entry.labels = labels
  entry.result = nil
  return entry
end

local function main()
  local cmd = vim.fn.json_decode((assert(os.getenv("ENVLS_SERVER_CMD"), "ENVLS_SERVER_CMD is not set")))
  local file = assert(os.getenv("ENVLS_FILE"), "ENVLS_FILE is not set")
  local fresh = assert(os.getenv("ENVLS_FRESH_FILE"), "ENVLS_FRESH_FILE is not set")

  local function record_message(kind)
    return function(_, params)
      table.insert(result.messages, { kind = kind, type = params.type, message = params.message })
    end
  end

  -- the raw publishDiagnostics per URI (to see the version the server says the diagnostics belong to)
  local published = {}
  local default_publish = vim.lsp.handlers["textDocument/publishDiagnostics"]
  local function on_publish(err, params, ctx, config)
    local raw = {}
    for _, d in ipairs(params.diagnostics) do
      local r = d.range
      table.insert(raw, { code = d.code, line = r.start.line, character = r.start.character,
                          end_line = r["end"].line, end_character = r["end"].character })
    end
    published[params.uri] = { version = params.version, count = #params.diagnostics, diagnostics = raw }
    return default_publish(err, params, ctx, config)
  end

  local client_id = vim.lsp.start_client({
    name = "envls",
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ":p:h"),
    handlers = {
      ["window/showMessage"] = record_message("showMessage"),
      ["window/logMessage"] = record_message("logMessage"),
      ["textDocument/publishDiagnostics"] = on_publish,
    },
    on_exit = function(code, signal)
      result.exit = { code = code, signal = signal }
    end,
  })
  result.client_id = client_id
  assert(client_id, "vim.lsp.start_client returned nil")

  vim.cmd("filetype on") -- so languageId is "yaml" rather than "" under -u NONE
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype
  local t_open = now_ms()
  vim.lsp.buf_attach_client(bufnr, client_id) -- didOpen goes out after initialize

  local client = vim.lsp.get_client_by_id(client_id)
  local ok, ms = wait_for(function() return client.initialized == true end)
  result.initialized = ok
  result.initialize_ms = ms
  if not ok then error("the server did not answer initialize within " .. timeout .. " ms") end
  local caps = client.server_capabilities or {}
  result.offset_encoding = client.offset_encoding
  result.capabilities = {
    completion = caps.completionProvider ~= nil,
    trigger_characters = caps.completionProvider and caps.completionProvider.triggerCharacters or vim.NIL,
    hover = caps.hoverProvider and true or false,
    code_action = caps.codeActionProvider and true or false,
    document_symbol = caps.documentSymbolProvider and true or false,
    text_document_sync = caps.textDocumentSync,
    position_encoding = caps.positionEncoding,
  }

  -- 1. diagnostics after didOpen
  local uri = vim.uri_from_bufnr(bufnr)
  ok = wait_for(function() return published[uri] ~= nil end)
  table.insert(result.steps, { name = "open", ok = ok, ms = math.floor(now_ms() - t_open + 0.5),
                               diagnostics = diagnostics_of(bufnr), published = published[uri] or vim.NIL,
                               version = buffer_version(bufnr) })
  if not ok then error("no publishDiagnostics after didOpen within " .. timeout .. " ms") end

  -- 2. completion at column 0 of the empty line 1 (this file already has name, channels and dependencies)
  result.completion_existing = completion_labels(request(bufnr, "textDocument/completion", {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = 1, character = 0 },
  }))

  -- 3. hover on the `channels` key (line 2, inside the word)
  local hover = request(bufnr, "textDocument/hover", {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = 2, character = 3 },
  })
  if type(hover.result) == "table" then
    local contents = hover.result.contents
    hover.markdown = type(contents) == "table" and (contents.value or vim.inspect(contents)) or contents
    hover.range = hover.result.range
    hover.result = nil
  end
  result.hover = hover

  -- 4. edits through the buffer (didChange, incremental sync). Each waits for the publication that
  -- carries the buffer's new version (nvim sends changedtick as the version), so diagnostics that
  -- nvim itself moves along with the text cannot pass for the server's answer.
  local function wait_for_current_version(name, extra)
    local version = buffer_version(bufnr)
    local done, elapsed = wait_for(function()
      local last = published[uri]
      return last ~= nil and last.version == version
    end)
    local step = { name = name, ok = done, ms = elapsed, diagnostics = diagnostics_of(bufnr), version = version,
                   published = published[uri] or vim.NIL, buffer = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false) }
    for k, v in pairs(extra or {}) do step[k] = v end
    table.insert(result.steps, step)
    if not done then
      error(string.format("%s: no publishDiagnostics for version %s within %d ms (last: %s)", name,
                          tostring(version), timeout, vim.inspect(published[uri])))
    end
  end

  -- 4a. fix `python==3.9` by hand
  vim.api.nvim_buf_set_lines(bufnr, 5, 6, false, { "  - python=3.9" })
  wait_for_current_version("fix-python-spec")
  -- 4b. insert a line above everything: the remaining diagnostic must move down one line
  vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { "# a comment line added in nvim" })
  wait_for_current_version("insert-comment-line")

  -- 4c. ask for the quick fix of `pip-not-listed` and let nvim apply the server's WorkspaceEdit
  -- (the context carries the line's diagnostics back in LSP form, as vim.lsp.buf.code_action does)
  local pip_line = 8
  local lsp_diags = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = pip_line })) do
    table.insert(lsp_diags, {
      range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
      severity = d.severity, message = d.message, source = d.source, code = d.code,
    })
  end
  local actions = request(bufnr, "textDocument/codeAction", {
    textDocument = { uri = uri },
    range = { start = { line = pip_line, character = 4 }, ["end"] = { line = pip_line, character = 7 } },
    context = { diagnostics = lsp_diags },
  })
  local titles, chosen = {}, nil
  for _, action in ipairs(type(actions.result) == "table" and actions.result or {}) do
    table.insert(titles, action.title)
    if chosen == nil and action.edit and action.title:find("pip", 1, true) then chosen = action end
  end
  if chosen ~= nil then
    vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding)
    wait_for_current_version("apply-quick-fix", { titles = titles, applied = chosen.title })
  else
    table.insert(result.steps, { name = "apply-quick-fix", ok = false, titles = titles,
                                 error = actions.error or "no quick fix with an edit" })
  end

  -- 4d. non-ASCII text before diagnostics on the same line: LSP columns are UTF-16 code units
  -- (nvim 0.7 offers no other encoding), vim.diagnostic columns are bytes
  vim.api.nvim_buf_set_lines(bufnr, 3, 5, false, { 'channels: ["\u{e9}-\u{1F40D}", conda-forge, conda-forge]' })
  wait_for_current_version("non-ascii-line")
  -- 4e. insert inside that line, right after the emoji: nvim sends a UTF-16 range for the change
  local emoji_end = #'channels: ["\u{e9}-\u{1F40D}'
  vim.api.nvim_buf_set_text(bufnr, 3, emoji_end, 3, emoji_end, { "x" })
  wait_for_current_version("insert-after-emoji")

  -- 5. completion in a second, nearly empty environment file: every key but `name` is offered
  vim.o.hidden = true -- keep the edited buffer (and its didOpen) while another file is shown
  vim.cmd("edit " .. vim.fn.fnameescape(fresh))
  local fresh_buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(fresh_buf, client_id)
  result.completion_fresh = completion_labels(request(fresh_buf, "textDocument/completion", {
    textDocument = { uri = vim.uri_from_bufnr(fresh_buf) }, position = { line = 1, character = 0 },
  }))

  -- 6. stop: shutdown + exit, and the server process must go away with code 0
  local t_stop = now_ms()
  vim.lsp.stop_client(client_id)
  ok = wait_for(function() return result.exit ~= nil end)
  result.stop = { ok = ok, ms = math.floor(now_ms() - t_stop + 0.5),
                  client_gone = vim.lsp.get_client_by_id(client_id) == nil }
  if not ok then
    vim.lsp.stop_client(client_id, true)
    wait_for(function() return result.exit ~= nil end, 2000)
  end
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  result.error = tostring(err)
  for _, client in pairs(active_clients()) do client.stop(true) end
  wait_for(function() return #active_clients() == 0 end, 2000)
end
result.lsp_log = vim.lsp.get_log_path()
local fh = assert(io.open(out, "w"))
fh:write(vim.fn.json_encode(result))
fh:close()
vim.cmd(ok and "qa!" or "cquit 1")
