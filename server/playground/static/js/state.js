// What this tab remembers between views: the files picked here (so the player needs no download) and when
// each job was submitted (to time upload → first word). Gone with the tab.
export const localFiles = new Map(); // transcript id → File
export const submittedAt = new Map(); // transcript id → performance.now() when "Transcribe" was clicked
