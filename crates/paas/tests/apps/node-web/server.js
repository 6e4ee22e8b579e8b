// Serves one page naming what the build wrote and the GREETING config var.
const http = require("http");
const fs = require("fs");
const isNumber = require("is-number");
const built = fs.readFileSync("built.txt", "utf8").trim();
http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`hello from node, ${built}, ${isNumber("x") ? "" : "x is no number"}, GREETING=${process.env.GREETING || ""}\n`);
  })
  .listen(Number(process.env.PORT), "0.0.0.0");
