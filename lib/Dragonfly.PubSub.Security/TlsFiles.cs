using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// The on-disk layout (<c>&lt;data-dir&gt;/tls/...</c>) and the file helpers behind it: keys are written
/// 0600 and every file atomically (temp file, then rename), so a crash never leaves half a key.
/// </summary>
public static class TlsFiles
{
    public const string DirectoryName = "tls";
    public const string CaCertificate = "ca.crt";
    public const string CaKey = "ca.key";
    public const string BrokerCertificate = "broker.crt";
    public const string BrokerKey = "broker.key";
    public const string AgentCertificate = "agent.crt";
    public const string AgentKey = "agent.key";

    /// <summary>The broker's announcement-signing key and the certificate the fleet CA issued for it (signed announcements).</summary>
    public const string AnnouncementKey = "announce.key";
    public const string AnnouncementCertificate = "announce.crt";

    public static string DirectoryFor(string dataDir) => Path.Combine(dataDir, DirectoryName);

    /// <summary>Writes a private key (or anything secret): owner read/write only, atomically.</summary>
    public static void WriteSecret(string path, string text) => WriteAtomically(path, text, secret: true);

    /// <summary>Writes a certificate or other public file, atomically.</summary>
    public static void WritePublic(string path, string text) => WriteAtomically(path, text, secret: false);

    /// <summary>Writes a certificate (PEM) and its private key (PKCS#8 PEM, 0600).</summary>
    public static void WriteCertificateAndKey(X509Certificate2 certificate, string certPath, string keyPath)
    {
        WriteSecret(keyPath, PrivateKeyPem(certificate));
        WritePublic(certPath, certificate.ExportCertificatePem());
    }

    public static string PrivateKeyPem(X509Certificate2 certificate)
    {
        using AsymmetricAlgorithm? key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey() ?? certificate.GetRSAPrivateKey();
        return key?.ExportPkcs8PrivateKeyPem()
            ?? throw new ArgumentException("the certificate has no ECDSA or RSA private key", nameof(certificate));
    }

    public static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TlsFileException($"cannot read {path}: {e.Message.TrimEnd('.')}", e);
        }
    }

    /// <summary>The first certificate in a PEM (or DER) file.</summary>
    public static X509Certificate2 LoadCertificate(string path)
    {
        var all = LoadCertificates(path);
        for (var i = 1; i < all.Count; i++)
        {
            all[i].Dispose();
        }
        return all[0];
    }

    /// <summary>Every certificate in a PEM bundle (a CA file may hold several roots or a chain).</summary>
    public static X509Certificate2Collection LoadCertificates(string path)
    {
        var text = ReadText(path);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(text);
        }
        catch (CryptographicException e)
        {
            throw new TlsFileException($"{path} holds no valid PEM certificate ({e.Message.TrimEnd('.')})", e);
        }
        if (certificates.Count == 0)
        {
            throw new TlsFileException($"{path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
        }
        return certificates;
    }

    /// <summary>A certificate and its key from PEM files, in a form SslStream can use on Linux.</summary>
    public static X509Certificate2 LoadCertificateWithKey(string certPath, string keyPath)
    {
        var certText = ReadText(certPath);
        var keyText = ReadText(keyPath);
        try
        {
            using var pem = X509Certificate2.CreateFromPem(certText, keyText);
            return Usable(pem);
        }
        catch (CryptographicException e)
        {
            throw new TlsFileException($"{certPath} and {keyPath} are not a matching PEM certificate and private key ({e.Message.TrimEnd('.')})", e);
        }
    }

    /// <summary>
    /// Re-imports a certificate with its key through PKCS#12: a key attached in memory (CreateFromPem,
    /// CopyWithPrivateKey) is ephemeral, which SslStream on Linux cannot always use for a server.
    /// </summary>
    public static X509Certificate2 Usable(X509Certificate2 withKey)
    {
        var pfx = withKey.Export(X509ContentType.Pkcs12);
        try
        {
            return X509CertificateLoader.LoadPkcs12(pfx, password: null, X509KeyStorageFlags.Exportable);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pfx);
        }
    }

    private static void WriteAtomically(string path, string text, bool secret)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = secret
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }
        try
        {
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(text);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new TlsFileException($"cannot write {path}: {e.Message.TrimEnd('.')}", e);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stray temp file holds nothing the next write needs.
        }
    }
}
