// Plays an asciicast v2 recording in a <pre>: a small terminal (text, CR/LF, backspace,
// tabs, erase-in-line, cursor moves and clear screen); other escape sequences are dropped.
// Text is written with textContent only, so recorded output can never become markup.
"use strict";

(() => {
  const ESC_SEQUENCE = /\x1b(?:\[([0-9;?]*)([A-Za-z@`])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Za-z0-9]|[=>78DEHM])/y;

  class Screen {
    constructor(rows) {
      this.rows = rows;
      this.reset();
    }
    reset() {
      this.lines = [""];
      this.row = 0;
      this.col = 0;
    }
    line() {
      while (this.lines.length <= this.row) this.lines.push("");
      return this.lines[this.row];
    }
    put(text) {
      const current = this.line().padEnd(this.col, " ");
      this.lines[this.row] = current.slice(0, this.col) + text + current.slice(this.col + text.length);
      this.col += text.length;
    }
    csi(params, command) {
      const numbers = params.replace("?", "").split(";").map((n) => parseInt(n, 10) || 0);
      const n = numbers[0] || 1;
      if (command === "K") this.lines[this.row] = numbers[0] === 2 ? "" : this.line().slice(0, this.col);
      else if (command === "J" && (numbers[0] === 2 || numbers[0] === 3)) this.reset();
      else if (command === "J") this.lines.length = this.row + 1;
      else if (command === "A") this.row = Math.max(0, this.row - n);
      else if (command === "B") this.row += n;
      else if (command === "C") this.col += n;
      else if (command === "D") this.col = Math.max(0, this.col - n);
      else if (command === "G") this.col = Math.max(0, n - 1);
      else if (command === "H" || command === "f") {
        this.row = Math.max(0, (numbers[0] || 1) - 1);
        this.col = Math.max(0, (numbers[1] || 1) - 1);
      }
    }
    write(data) {
      let plain = "";
      const flush = () => {
        if (plain) this.put(plain);
        plain = "";
      };
      for (let i = 0; i < data.length; i += 1) {
        const ch = data[i];
        if (ch === "\x1b") {
          flush();
          ESC_SEQUENCE.lastIndex = i;
          const match = ESC_SEQUENCE.exec(data);
          if (match) {
            if (match[2]) this.csi(match[1], match[2]);
            i += match[0].length - 1;
          }
        } else if (ch === "\n") {
          flush();
          this.row += 1;
          this.line();
        } else if (ch === "\r") {
          flush();
          this.col = 0;
        } else if (ch === "\b") {
          flush();
          this.col = Math.max(0, this.col - 1);
        } else if (ch === "\t") {
          plain += " ".repeat(8 - ((this.col + plain.length) % 8));
        } else if (ch >= " " || ch > "\x7f") {
          plain += ch;
        }
      }
      flush();
    }
    text() {
      return this.lines.slice(Math.max(0, this.lines.length - this.rows)).join("\n");
    }
  }

  async function setUp(root) {
    const screenNode = root.querySelector("[data-screen]");
    const response = await fetch(root.dataset.src, { credentials: "same-origin" });
    if (!response.ok) {
      screenNode.textContent = `The recording could not be loaded (${response.status}).`;
      return;
    }
    const lines = (await response.text()).split("\n").filter((line) => line.trim());
    const header = JSON.parse(lines[0]);
    const frames = lines.slice(1).map((line) => JSON.parse(line)).filter((frame) => frame[1] === "o");
    const duration = frames.length ? frames[frames.length - 1][0] : 0;
    const screen = new Screen(header.height || 24);
    const play = root.querySelector("[data-play]");
    const seek = root.querySelector("[data-seek]");
    const clock = root.querySelector("[data-clock]");
    const speed = root.querySelector("[data-speed]");
    let index = 0;
    let position = 0;
    let timer = null;

    const show = () => {
      screenNode.textContent = screen.text();
      clock.textContent = `${position.toFixed(1)} s / ${duration.toFixed(1)} s`;
      seek.value = duration ? String(Math.round((position / duration) * 1000)) : "0";
    };
    const renderUntil = (seconds) => {
      if (seconds < position) {
        screen.reset();
        index = 0;
      }
      while (index < frames.length && frames[index][0] <= seconds) {
        screen.write(frames[index][2]);
        index += 1;
      }
      position = seconds;
      show();
    };
    const stop = () => {
      clearInterval(timer);
      timer = null;
      play.textContent = "Play";
    };
    play.addEventListener("click", () => {
      if (timer) {
        stop();
        return;
      }
      if (position >= duration) renderUntil(0);
      play.textContent = "Pause";
      let last = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        renderUntil(Math.min(duration, position + ((now - last) / 1000) * Number(speed.value)));
        last = now;
        if (position >= duration) stop();
      }, 50);
    });
    seek.addEventListener("input", () => renderUntil((Number(seek.value) / 1000) * duration));
    root.ownerDocument.querySelectorAll("[data-jump]").forEach((button) => {
      button.addEventListener("click", () => renderUntil(Number(button.dataset.jump)));
    });
    renderUntil(duration); // show the end state first: what the session left on screen
  }

  document.querySelectorAll("[data-player]").forEach((root) => {
    setUp(root).catch((error) => {
      root.querySelector("[data-screen]").textContent = `The recording could not be played: ${error}`;
    });
  });
})();
