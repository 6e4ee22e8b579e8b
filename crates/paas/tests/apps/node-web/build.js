// Run by `npm run build`: proves the build script ran, with the dependency installed.
const fs = require("fs");
const isNumber = require("is-number");
fs.writeFileSync("built.txt", `built: is-number(42) is ${isNumber(42)}\n`);
