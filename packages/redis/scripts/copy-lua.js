// Build step: the Lua scripts are read at run time from next to the compiled modules, so dist/lua mirrors
// src/lua (emptied first, so a script removed from src does not linger in dist).
const { cpSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'dist', 'lua');
rmSync(target, { recursive: true, force: true });
cpSync(path.join(root, 'src', 'lua'), target, { recursive: true });
