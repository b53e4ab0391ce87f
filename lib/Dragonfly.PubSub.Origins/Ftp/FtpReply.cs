namespace Dragonfly.PubSub.Origins.Ftp;

/// <summary>One reply on the FTP control connection: the code and the text of all its lines.</summary>
internal readonly record struct FtpReply(int Code, string Text)
{
    public bool IsPreliminary => Code is >= 100 and < 200;
    public bool IsSuccess => Code is >= 200 and < 300;
    public bool IsIntermediate => Code is >= 300 and < 400;

    public override string ToString() => $"FTP {Code} {Text.ReplaceLineEndings(" ").Trim()}";
}
