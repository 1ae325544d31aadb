/**
 * The chunker on real tree-sitter grammars (@vscode/tree-sitter-wasm via web-tree-sitter): chunk boundaries follow
 * symbols in every supported language, big symbols split at their children with the signature kept, and every chunk
 * fits the token budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Chunker, findWasm, type Chunk } from '../../src/core/index/chunker';
import { languageOf } from '../../src/core/index/languages';
import { estimateTokens } from '../../src/core/providers/tokenEstimate';

const chunker = new Chunker();

function symbols(chunks: Chunk[]): string[] {
  return chunks.filter((c) => c.symbol).map((c) => `${c.kind} ${c.symbol} ${c.startLine}-${c.endLine}`);
}

async function cut(text: string, language: string, budget = 400): Promise<Chunk[]> {
  return chunker.chunk(text.replace(/^\n/, ''), language, budget);
}

test('the wasm files are found (node_modules from source; dist/ and dist/grammars when bundled)', () => {
  const w = findWasm();
  assert.ok(fs.existsSync(path.join(w.runtime, 'tree-sitter.wasm')));
  assert.ok(fs.existsSync(path.join(w.grammars, 'tree-sitter-typescript.wasm')));
  const dist = path.resolve(__dirname, '../../dist');
  assert.ok(fs.existsSync(path.join(dist, 'tree-sitter.wasm')), 'esbuild.js copies tree-sitter.wasm into dist/');
  assert.ok(fs.existsSync(path.join(dist, 'grammars', 'tree-sitter-rust.wasm')), 'esbuild.js copies the grammars into dist/grammars');
});

test('languages by file name', () => {
  assert.equal(languageOf('a/b.tsx'), 'tsx');
  assert.equal(languageOf('x.h'), 'c');
  assert.equal(languageOf('x.hpp'), 'cpp');
  assert.equal(languageOf('README.md'), 'markdown');
  assert.equal(languageOf('Makefile'), 'makefile');
  assert.equal(languageOf('notes.unknownext'), 'text');
});

test('TypeScript: imports as glue, each declaration one chunk with its doc comment, arrow functions named', async () => {
  const chunks = await cut(
    `
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Parses one header line. */
export function parseHttpHeader(line: string): [string, string] {
  const i = line.indexOf(':');
  return [line.slice(0, i).trim(), line.slice(i + 1).trim()];
}

export interface Header {
  name: string;
  value: string;
}

export type Headers = Header[];

export const joinHeaders = (hs: Headers): string => hs.map((h) => \`\${h.name}: \${h.value}\`).join('\\r\\n');

export class HeaderBag {
  private readonly all: Header[] = [];
  add(h: Header): void {
    this.all.push(h);
  }
}

enum Method { Get, Post }
`,
    'typescript',
  );
  assert.deepEqual(symbols(chunks), [
    'function parseHttpHeader 4-8',
    'interface Header 10-13',
    'type Headers 15-15',
    'function joinHeaders 17-17',
    'class HeaderBag 19-24',
    'enum Method 26-26',
  ]);
  const glue = chunks.find((c) => !c.symbol)!;
  assert.deepEqual([glue.startLine, glue.endLine], [1, 2]);
  assert.match(chunks.find((c) => c.symbol === 'parseHttpHeader')!.text, /^\/\*\* Parses one header line/);
});

test('TSX and JavaScript', async () => {
  const tsx = await cut(
    `
import React from 'react';
export function Button({ label }: { label: string }) {
  return <button className="b">{label}</button>;
}
export const Card = () => <div>card</div>;
`,
    'tsx',
  );
  assert.deepEqual(symbols(tsx), ['function Button 2-4', 'function Card 5-5']);
  const js = await cut(
    `
const fs = require('fs');
function load(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
class Cache {
  get(key) { return this.map.get(key); }
}
module.exports = { load, Cache };
`,
    'javascript',
  );
  assert.deepEqual(symbols(js), ['function load 2-4', 'class Cache 5-7']);
  assert.equal(js.filter((c) => !c.symbol).length, 2);
});

test('Python: functions, classes, decorated definitions; methods named Class.method when a class is split', async () => {
  const py = await cut(
    `
import os

@dataclass
class Item:
    sku: str
    quantity: int

def load(path):
    """Load items."""
    with open(path) as f:
        return [Item(*line.split(",")) for line in f]

async def fetch(url):
    return await get(url)
`,
    'python',
  );
  assert.deepEqual(symbols(py), ['class Item 3-6', 'function load 8-11', 'function fetch 13-14']);
  const body = Array.from(
    { length: 40 },
    (_, i) => `    def method_${i}(self, value):\n        return self.compute(value, ${i}) + sum(range(${i}))\n`,
  ).join('\n');
  const big = await cut(`class Calculator(Base):\n    """Many methods."""\n\n${body}`, 'python', 120);
  const methods = big.filter((c) => c.kind === 'method');
  assert.ok(methods.length >= 10, `expected the class to split into methods, got ${symbols(big).join(', ')}`);
  assert.equal(methods[0]!.symbol, 'Calculator.method_0');
  for (const m of methods) assert.match(m.text, /^class Calculator\(Base\):/, 'each part keeps the class signature as context');
});

test('Go, Rust, Java', async () => {
  const go = await cut(
    `
package main

import "fmt"

type Server struct {
	addr string
}

func (s *Server) Start() error {
	fmt.Println("start", s.addr)
	return nil
}

func main() {
	s := &Server{addr: ":8080"}
	_ = s.Start()
}
`,
    'go',
  );
  assert.deepEqual(symbols(go), ['type Server 5-7', 'method Start 9-12', 'function main 14-17']);
  const rust = await cut(
    `
use std::fmt;

pub struct Point { x: i32, y: i32 }

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub trait Shape {
    fn area(&self) -> f64;
}

pub fn distance(a: &Point, b: &Point) -> f64 {
    (((a.x - b.x).pow(2) + (a.y - b.y).pow(2)) as f64).sqrt()
}

mod tests {}
`,
    'rust',
  );
  assert.deepEqual(symbols(rust), [
    'struct Point 3-3',
    'impl fmt::Display for Point 5-9',
    'trait Shape 11-13',
    'function distance 15-17',
    'module tests 19-19',
  ]);
  const java = await cut(
    `
package com.example;

import java.util.List;

public class Inventory {
    private final List<String> items;

    public Inventory(List<String> items) {
        this.items = items;
    }

    public int count() {
        return items.size();
    }
}

interface Store { void save(); }
`,
    'java',
  );
  assert.deepEqual(symbols(java), ['class Inventory 5-15', 'interface Store 17-17']);
});

test('C (through the C++ grammar), C++, C#', async () => {
  const c = await cut(
    `
#include <stdio.h>

struct point { int x; int y; };

static int add(int a, int b) {
    return a + b;
}

int main(void) {
    printf("%d\\n", add(1, 2));
    return 0;
}
`,
    'c',
  );
  assert.deepEqual(symbols(c), ['struct point 3-3', 'function add 5-7', 'function main 9-12']);
  const cpp = await cut(
    `
#include <string>
namespace geo {
template <typename T>
class Box {
public:
    T value;
    T get() const { return value; }
};
}
std::string Greeter::greet(const std::string& name) {
    return "hello " + name;
}
`,
    'cpp',
  );
  assert.deepEqual(symbols(cpp), ['namespace geo 2-9', 'function Greeter::greet 10-12']);
  const cs = await cut(
    `
using System;

namespace Shop
{
    public class Cart
    {
        public decimal Total() { return 0m; }
    }
}
`,
    'csharp',
  );
  assert.deepEqual(symbols(cs), ['namespace Shop 3-9']);
});

test('Ruby and PHP', async () => {
  const rb = await cut(
    `
require 'json'

module Billing
  class Invoice
    def total
      lines.sum(&:amount)
    end
  end
end

def helper(x)
  x * 2
end
`,
    'ruby',
  );
  assert.deepEqual(symbols(rb), ['module Billing 3-9', 'method helper 11-13']);
  const php = await cut(
    `
<?php
namespace App;

function greet(string $name): string {
    return "Hello $name";
}

class User {
    public function name(): string { return $this->name; }
}
`,
    'php',
  );
  assert.deepEqual(
    symbols(php).filter((s) => !s.startsWith('namespace')),
    ['function greet 4-6', 'class User 8-10'],
  );
});

test('a symbol larger than the budget is split at child boundaries; every chunk fits the budget', async () => {
  const source = fs.readFileSync(path.resolve(__dirname, '../../src/core/routing/router.ts'), 'utf8');
  const budget = 200;
  const chunks = await chunker.chunk(source, 'typescript', budget);
  const router = chunks.filter((c) => c.symbol?.startsWith('Router.'));
  assert.ok(
    router.some((c) => c.symbol === 'Router.embed' && c.kind === 'method'),
    'methods of the big class are their own chunks',
  );
  for (const c of router) assert.match(c.text, /^export class Router \{/, 'class signature kept as context');
  for (const c of chunks)
    assert.ok(estimateTokens(c.text) <= budget + 40, `${c.symbol} ${c.startLine}-${c.endLine} has ${c.tokens} tokens`);
  // Lines are covered in order, without overlap.
  for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i]!.startLine > chunks[i - 1]!.endLine, `chunk ${i} overlaps the previous one`);
  // Same text, same hashes: the content hash is stable.
  const again = await chunker.chunk(source, 'typescript', budget);
  assert.deepEqual(
    again.map((c) => c.hash),
    chunks.map((c) => c.hash),
  );
});

test('Markdown by headings (not inside code fences), other text by line windows within the budget', async () => {
  const md = await cut(
    `
# Title
Intro text.

## Install
\`\`\`sh
# not a heading
npm install
\`\`\`

## Use
Run it.
`,
    'markdown',
  );
  assert.deepEqual(symbols(md), ['section Title 1-2', 'section Install 4-8', 'section Use 10-11']);
  const text = Array.from({ length: 300 }, (_, i) => `line ${i} of a plain text file with some words`).join('\n');
  const windows = await chunker.chunk(text, 'text', 100);
  assert.ok(windows.length > 5);
  assert.equal(windows[0]!.startLine, 1);
  assert.equal(windows.at(-1)!.endLine, 300);
  for (const w of windows) assert.ok(w.tokens <= 100);
});
