namespace Dragonfly.PubSub.Registry.Setup;

/// <summary>
/// What a set-up writer did or would do: the file, its new content, whether it changed, where
/// the previous version was saved (null: nothing was there, nothing changed, or a dry run).
/// </summary>
public sealed record SetupResult(string Path, string Content, bool Changed, string? BackupPath, bool DryRun);
